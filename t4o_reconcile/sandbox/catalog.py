"""The product's own lists: the merge fields, template languages and PDF templates the
sandbox accepts and answers on ``GET /v1/vocabulary``.

They are longer than the tool's built-in lists (``t4o_reconcile.vocabulary``), as the
real product's are: the manuals name three merge fields and say the product shows the
rest. So a template may use a field the built-in list lacks and still be accepted.
"""

from __future__ import annotations

from t4o_reconcile.vocabulary import BUILT_IN, Vocabulary

# Names the product has and the built-in lists do not (yet).
PRODUCT_ONLY_MERGE_FIELDS = ("YourReference", "OurReference", "Customer.Address", "Project.Name")
PRODUCT_ONLY_LANGUAGES = ("pl",)
PRODUCT_ONLY_PDF_TEMPLATES = ("letterhead",)

PRODUCT = Vocabulary(
    merge_fields=BUILT_IN.merge_fields | set(PRODUCT_ONLY_MERGE_FIELDS),
    languages=BUILT_IN.languages | set(PRODUCT_ONLY_LANGUAGES),
    pdf_templates=BUILT_IN.pdf_templates | set(PRODUCT_ONLY_PDF_TEMPLATES),
)
