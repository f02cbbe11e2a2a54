"""Import a Motia Python project into a new worker of this template (`python -m motia_import`).

Reading: project.py (pins, dependencies), discovery.py (step files per Motia version),
configs.py (step configs), modules.py (imports and the new layout). Rewriting: analysis.py and
roles.py (what Motia object each name is), transform.py and finish.py (libcst), middleware.py,
registrations.py. Writing: convert.py (in memory), render.py (copier and files), report.py,
testgen.py. The manual is docs/motia-import.md.
"""
