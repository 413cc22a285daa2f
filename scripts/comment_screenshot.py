"""Look at a plan comment as a reviewer sees it on GitHub: render it with cmarkgfm
(GitHub's own Markdown renderer), style it like a pull-request comment, and take a
screenshot with a headless Chromium.

    t4o-reconcile show tenants.plan --format markdown \\
        --approval-label t4o:allow-deletes > comment.md
    python scripts/comment_screenshot.py comment.md --out comment.png

Writes ``comment.html`` beside the PNG (open it in any browser); ``--html-only`` skips
Chromium. The diff blocks are coloured as GitHub colours them (``+`` green, ``-`` red,
``@@`` blue). The first screen of a 1000×1400 window is what the reviewer reads first:
it should hold the summary, the sensitive changes and the table of changed tenants.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif,
       "Noto Color Emoji"; font-size: 14px; line-height: 1.5; color: #1f2328; margin: 0;
       background: #fff; }
.comment { margin: 16px; border: 1px solid #d1d9e0; border-radius: 6px; }
.header { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
          color: #59636e; }
.body { padding: 16px; }
h2 { font-size: 1.5em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em;
     margin: 0 0 16px; }
h3 { font-size: 1.25em; margin: 24px 0 16px; }
table { border-collapse: collapse; margin-bottom: 16px; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
tr:nth-child(2n) { background: #f6f8fa; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       font-size: 85%; background: #eff1f3; border-radius: 6px; padding: .2em .4em; }
pre { background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto;
      font-size: 85%; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: 100%; }
.add { color: #116329; background: #f0fff4; }
.del { color: #82071e; background: #ffebe9; }
.hunk { color: #0550ae; }
details { margin-bottom: 16px; }
summary { cursor: pointer; }
"""

_DIFF_BLOCK = re.compile(r'(<pre lang="diff"><code>)(.*?)(</code></pre>)', re.S)


def _colour_line(line: str) -> str:
    # The line is already HTML-escaped by cmarkgfm.
    if line.startswith("+"):
        return f'<span class="add">{line}</span>'
    if line.startswith("-"):
        return f'<span class="del">{line}</span>'
    if line.startswith("@@"):
        return f'<span class="hunk">{line}</span>'
    return line


def _colour(match: re.Match[str]) -> str:
    body = "\n".join(_colour_line(line) for line in match.group(2).split("\n"))
    return match.group(1) + body + match.group(3)


def page(markdown: str, title: str) -> str:
    """The comment as a standalone HTML page that looks like a GitHub comment."""
    # UNSAFE keeps the raw HTML the comment uses (<details>, <br>) as GitHub does.
    rendered: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    rendered = _DIFF_BLOCK.sub(_colour, rendered)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body><div class='comment'>"
        f"<div class='header'><strong>github-actions</strong> bot commented</div>"
        f"<div class='body'>{rendered}</div></div></body></html>"
    )


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html_file: Path, png: Path, width: int, height: int) -> None:
    browser = _chromium()
    if browser is None:
        sys.exit("no chromium found: install it (apt-get install chromium) or use --html-only")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                f"--window-size={width},{height}",
                html_file.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("markdown", type=Path, help="the comment (plan --format markdown)")
    parser.add_argument("--out", type=Path, default=Path("comment.png"), help="the PNG")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--html-only", action="store_true", help="write the HTML page only")
    args = parser.parse_args(argv)
    markdown = args.markdown.read_text(encoding="utf-8")
    html_file = args.out.with_suffix(".html")
    html_file.write_text(page(markdown, args.markdown.name), encoding="utf-8")
    print(f"wrote {html_file}")
    if not args.html_only:
        screenshot(html_file, args.out, args.width, args.height)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
