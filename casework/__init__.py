"""casework: a case-management engine for Dutch municipal participation projects."""

__version__ = "0.1.0"
