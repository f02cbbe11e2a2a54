"""Text helpers, outside src/: the steps put this folder on sys.path themselves."""


def normalize_tags(tags):
    return sorted({t.strip().lower() for t in tags if t and t.strip()})
