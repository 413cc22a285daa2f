"""The CI kit's side of GitHub and GitLab: their REST APIs, and the plan comment."""
