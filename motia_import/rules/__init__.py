"""The rewrite's rules: one module per Motia construct family (or per property every converted
module must have), each small, each tested with exact before/after text.

A rule is a libcst transformer over one module. Rules that read libcst metadata declare it in
`METADATA_DEPENDENCIES`, and `apply_rules` resolves it once for the walk.
"""
