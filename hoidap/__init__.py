"""hoidap: extractive question answering over Vietnamese reports.

The product glue lives here (config, errors, CLI); the pipeline stages live in
``index`` (files -> saved index), ``qa`` (saved index -> cited answers) and
``ui`` (web layer).
"""

__version__ = "0.1.0"
