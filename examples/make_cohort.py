"""Write a made-up cohort CSV of Dutch participants (Groningen); the generator lives in
casework.madeup (the season simulation uses it too).

    python examples/make_cohort.py OUT.csv [--rows N] [--seed S] [--delimiter ';'|',']
"""

from casework.madeup import main

if __name__ == "__main__":
    raise SystemExit(main())
