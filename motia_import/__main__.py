"""`python -m motia_import SOURCE DEST`: see motia_import/cli.py and docs/motia-import.md."""

from motia_import.cli import main

raise SystemExit(main())
