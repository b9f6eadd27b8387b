"""SLOs as code: OpenSLO v1 and Sloth ``prometheus/v1`` documents to relops flows, and flows back to
OpenSLO. Pure: the callers hand it the files' text and write what it returns.

- ``importing.import_files``: YAML texts to validated ``FlowConfig`` values, and what was refused
  (file, document, field, why);
- ``openslo_out.export_openslo``: flows to OpenSLO v1 ``SLO`` documents (YAML);
- ``flows_toml.flows_toml``: flows as ``[[flows]]`` entries of a relops config file.
"""
