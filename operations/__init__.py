"""The operation specs, as data: ``<name>.yaml`` written by hand (read by
:mod:`engine.spec.files`), ``official.json`` generated from GHL's official documents (turned into
specs by :mod:`operations.official`)."""
