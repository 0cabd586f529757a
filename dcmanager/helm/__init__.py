"""Helm chart overrides: a values engine that reads ``--set`` expressions and values
files exactly as Helm does (:mod:`.strvals`, :mod:`.values`, :mod:`.yamlio`), chart
plugins that compute a site's system overrides (:mod:`.plugins`), and the combination
the API shows (:mod:`.overrides`)."""
