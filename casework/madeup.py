"""Made-up cohorts of Dutch participants (Groningen), for examples, benchmarks and the season
simulation (`casework simulate season`).

Every value is invented. BSNs pass the elfproef (11-check) and are unique
within a file, but they are generated numbers, not real people's BSNs.

Usage::

    python examples/make_cohort.py OUT.csv [--rows N] [--seed S] [--delimiter ';'|',']

The output is deterministic for a seed: the first N rows of a larger file
equal an N-row file made with the same seed. Rows are streamed to the file,
so large files (1,000,000+ rows) are cheap.
"""

from __future__ import annotations

import argparse
import itertools
import random
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from stdnum.nl import bsn as stdnum_bsn

HEADER: tuple[str, ...] = (
    "bsn",
    "initials",
    "prefix",
    "surname",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "wijk",
    "phone",
    "email",
    "wij_team_contact",
    "last_guidance",
)

DEFAULT_ROWS = 200
DEFAULT_SEED = 2016
CITY = "Groningen"

# Lowest and highest 8-digit BSN prefix used (keeps every BSN at 9 digits
# with a non-zero first digit).
_PREFIX_MIN = 10_000_000
_PREFIX_MAX = 99_999_999
# At most one prefix per block of ten (same first seven digits) has no valid
# check digit, so the 9,000,000 blocks hold at least this many BSNs.
MAX_ROWS = (_PREFIX_MAX - _PREFIX_MIN + 1) * 9 // 10


def _expand(weighted: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """Expand (value, weight) pairs into a lookup table for O(1) picks."""
    return tuple(value for value, weight in weighted for _ in range(weight))


# wijk -> (weight, postcode digits, streets). Postcode digits and street
# placement are plausible for Groningen but not authoritative.
WIJKEN: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "Vinkhuizen": (
        22,
        ("9743", "9746"),
        (
            "Siersteenlaan",
            "Bessemoerstraat",
            "Zernikelaan",
            "Regattaweg",
            "Kornoeljestraat",
            "Vinkenstraat",
            "Hendrik Westerstraat",
        ),
    ),
    "Oosterparkwijk": (
        20,
        ("9713", "9714"),
        (
            "Oosterparkstraat",
            "Gorechtkade",
            "Linnaeusplein",
            "Oosterhamriklaan",
            "Jacob van Ruysdaelstraat",
            "Professor Rankestraat",
        ),
    ),
    "Beijum": (
        13,
        ("9736", "9737"),
        (
            "Beijumerweg",
            "Kardingerweg",
            "Jaagpad",
            "Ringweg Beijum",
            "Hellingstraat",
            "Oostpolderweg",
        ),
    ),
    "Lewenborg": (
        11,
        ("9732", "9733"),
        (
            "Kluiverboom",
            "Lewenborgweg",
            "Noorderhoogebrug",
            "Wirdumerdijk",
            "Zilvermeeuw",
            "Haverlanden",
        ),
    ),
    "Selwerd": (
        10,
        ("9741",),
        ("Kastanjelaan", "Eikenlaan", "Iepenlaan", "Selwerderdwarsweg", "Berkenlaan"),
    ),
    "Paddepoel": (
        10,
        ("9742",),
        (
            "Zonnelaan",
            "Pleiadenlaan",
            "Planetenlaan",
            "Siriusstraat",
            "Orionstraat",
            "Mercuriusstraat",
        ),
    ),
    "De Hoogte": (
        8,
        ("9715",),
        ("Bedumerweg", "Kerklaan", "Korreweg", "Floresplein", "Madoerastraat", "Atjehstraat"),
    ),
    "Hoogkerk": (
        6,
        ("9745",),
        ("Hoofdweg", "Zuiderweg", "Kerkstraat", "Paterswoldseweg", "Westerwijk", "Suikerlaan"),
    ),
}
_WIJK_TABLE = _expand([(name, spec[0]) for name, spec in WIJKEN.items()])

# Postcode letter pairs: skip letters PostNL does not use and the pairs
# SA, SD and SS.
_POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_POSTCODE_PAIRS = tuple(
    a + b for a in _POSTCODE_LETTERS for b in _POSTCODE_LETTERS if a + b not in {"SA", "SD", "SS"}
)

# (prefix, surname, weight). "de Vries" is split into prefix "de" and
# surname "Vries", following Dutch registration practice.
SURNAMES: tuple[tuple[str, str, int], ...] = (
    ("", "Jansen", 12),
    ("de", "Vries", 10),
    ("", "Bakker", 8),
    ("", "Visser", 8),
    ("", "Smit", 7),
    ("", "Meijer", 7),
    ("de", "Jong", 7),
    ("", "Mulder", 6),
    ("de", "Boer", 6),
    ("", "Bos", 5),
    ("van", "Dijk", 5),
    ("", "Dijkstra", 6),
    ("", "Hoekstra", 5),
    ("", "Kok", 4),
    ("van der", "Meer", 4),
    ("van den", "Berg", 4),
    ("van der", "Veen", 3),
    ("van den", "Bosch", 2),
    ("van", "Leeuwen", 3),
    ("", "Boer", 2),
    ("", "Postma", 4),
    ("", "Huizinga", 3),
    ("", "Wiersma", 3),
    ("", "Kuipers", 3),
    ("", "Yilmaz", 4),
    ("", "El Amrani", 3),
    ("", "Öztürk", 3),
    ("", "Çelik", 2),
    ("", "Şahin", 2),
    ("", "Doğan", 2),
    ("", "Kaya", 2),
    ("", "Bouzid", 2),
    ("", "Hoëll", 1),
    ("", "Lefèvre", 1),
    ("", "Müller", 1),
    ("", "Nguyen", 1),
)


def _email_slug(prefix: str, surname: str) -> str:
    """ASCII-only e-mail local part for a surname ("van der Meer" -> "vandermeer")."""
    text = unicodedata.normalize("NFKD", prefix + surname)
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum())


_SURNAME_TABLE: tuple[tuple[str, str, str], ...] = tuple(
    (prefix, surname, _email_slug(prefix, surname))
    for prefix, surname, weight in SURNAMES
    for _ in range(weight)
)

# Initial letters, roughly following Dutch first-name frequencies.
_INITIAL_TABLE = _expand(
    [
        ("J", 14),
        ("A", 10),
        ("M", 10),
        ("H", 7),
        ("P", 6),
        ("W", 5),
        ("G", 5),
        ("C", 5),
        ("R", 5),
        ("E", 5),
        ("S", 5),
        ("L", 4),
        ("K", 4),
        ("D", 4),
        ("T", 3),
        ("B", 3),
        ("F", 2),
        ("N", 2),
        ("I", 2),
        ("Y", 2),
        ("O", 1),
        ("V", 1),
        ("Z", 1),
    ]
)

_SUFFIX_TABLE = _expand([("", 88), ("A", 4), ("B", 3), ("-2", 2), ("bis", 1), ("C", 1), ("-1", 1)])
_EMAIL_DOMAIN_TABLE = _expand([("example.nl", 3), ("example.org", 1)])

_GUIDANCE_START = date(2012, 1, 1).toordinal()
_GUIDANCE_SPAN = date(2026, 10, 31).toordinal() - _GUIDANCE_START + 1

# Elfproef weights 9..2 for the eight prefix digits, split into two
# 4-digit halves so a prefix's weighted sum is two table look-ups.
_HIGH_SUMS = tuple(
    sum(int(d) * w for d, w in zip(f"{n:04d}", (9, 8, 7, 6), strict=True)) for n in range(10_000)
)
_LOW_SUMS = tuple(
    sum(int(d) * w for d, w in zip(f"{n:04d}", (5, 4, 3, 2), strict=True)) for n in range(10_000)
)


def check_digit(prefix: int) -> int | None:
    """Return the elfproef check digit for an 8-digit prefix, or None.

    The BSN is valid when sum(d_i * w_i) - d_9 is divisible by 11, with
    weights 9..2 for the first eight digits; so d_9 == sum % 11, and a
    prefix whose sum % 11 is 10 has no valid check digit.
    """
    digit = (_HIGH_SUMS[prefix // 10_000] + _LOW_SUMS[prefix % 10_000]) % 11
    return None if digit == 10 else digit


def iter_bsns(start: int) -> Iterator[str]:
    """Yield unique valid BSNs from consecutive prefixes starting at start.

    After prefix 99999999 it wraps around to 10000000, so any start works and
    the first K BSNs do not depend on how many are requested in total.
    """
    prefixes = itertools.chain(range(start, _PREFIX_MAX + 1), range(_PREFIX_MIN, start))
    for prefix in prefixes:
        digit = check_digit(prefix)
        if digit is not None:
            yield f"{prefix}{digit}"
    raise ValueError("ran out of 8-digit BSN prefixes")


def _self_check() -> None:
    """Cross-check the hand-rolled elfproef against python-stdnum once."""
    for prefix in (11_122_233, 12_345_678, 98_765_432, _PREFIX_MIN, _PREFIX_MAX):
        digit = check_digit(prefix)
        if digit is None:
            ok = not any(stdnum_bsn.is_valid(f"{prefix}{d}") for d in range(10))
        else:
            ok = stdnum_bsn.is_valid(f"{prefix}{digit}")
        if not ok:
            raise AssertionError(f"elfproef mismatch for prefix {prefix}")


def iter_rows(rows: int, seed: int) -> Iterator[tuple[str, ...]]:
    """Yield `rows` made-up participant rows, deterministic for `seed`."""
    if not 0 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be between 0 and {MAX_ROWS}")
    rng = random.Random(seed)
    rand = rng.random  # only random() is used: stable across Python versions

    # The start does not depend on `rows`, so a smaller file is a prefix of
    # a larger one generated with the same seed.
    start = _PREFIX_MIN + int(rand() * (_PREFIX_MAX - _PREFIX_MIN + 1))
    bsns = iter_bsns(start)

    wijk_table, n_wijk = _WIJK_TABLE, len(_WIJK_TABLE)
    surname_table, n_surname = _SURNAME_TABLE, len(_SURNAME_TABLE)
    initial_table, n_initial = _INITIAL_TABLE, len(_INITIAL_TABLE)
    suffix_table, n_suffix = _SUFFIX_TABLE, len(_SUFFIX_TABLE)
    domain_table, n_domain = _EMAIL_DOMAIN_TABLE, len(_EMAIL_DOMAIN_TABLE)
    pairs, n_pairs = _POSTCODE_PAIRS, len(_POSTCODE_PAIRS)
    wijken = WIJKEN
    from_ordinal = date.fromordinal

    for _ in range(rows):
        bsn = next(bsns)

        r = rand()
        n_initials = 1 if r < 0.5 else 2 if r < 0.85 else 3
        initials = "".join(initial_table[int(rand() * n_initial)] + "." for _ in range(n_initials))
        prefix, surname, slug = surname_table[int(rand() * n_surname)]

        wijk = wijk_table[int(rand() * n_wijk)]
        _, digits, streets = wijken[wijk]
        street = streets[int(rand() * len(streets))]
        house_number = str(1 + int(rand() * 250))
        suffix = suffix_table[int(rand() * n_suffix)]
        postcode = f"{digits[int(rand() * len(digits))]} {pairs[int(rand() * n_pairs)]}"

        phone = "" if rand() < 0.15 else f"06-{10_000_000 + int(rand() * 55_000_000)}"

        if rand() < 0.3:
            email = ""
        else:
            number = str(1 + int(rand() * 99)) if rand() < 0.5 else ""
            domain = domain_table[int(rand() * n_domain)]
            email = f"{initials[0].lower()}.{slug}{number}@{domain}"

        wij_team_contact = "yes" if rand() < 0.08 else "no"
        last_guidance = (
            from_ordinal(_GUIDANCE_START + int(rand() * _GUIDANCE_SPAN)).isoformat()
            if rand() < 0.25
            else ""
        )

        yield (
            bsn,
            initials,
            prefix,
            surname,
            street,
            house_number,
            suffix,
            postcode,
            CITY,
            wijk,
            phone,
            email,
            wij_team_contact,
            last_guidance,
        )


def write_cohort(out: Path, rows: int, seed: int, delimiter: str = ",") -> None:
    """Stream a cohort CSV (UTF-8, no BOM, LF line endings) to `out`."""
    from casework.outfiles import csv_writer

    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv_writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(iter_rows(rows, seed))


def _row_count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_ROWS}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a made-up cohort CSV of Dutch participants."
    )
    parser.add_argument("out", type=Path, metavar="OUT.csv", help="output CSV path")
    parser.add_argument(
        "--rows",
        type=_row_count,
        default=DEFAULT_ROWS,
        help=f"number of data rows (default: {DEFAULT_ROWS})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"random seed (default: {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--delimiter",
        choices=(",", ";"),
        default=",",
        metavar="CHAR",
        help="field delimiter: ',' or ';' (default: ',')",
    )
    args = parser.parse_args(argv)
    _self_check()
    write_cohort(args.out, args.rows, args.seed, args.delimiter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
