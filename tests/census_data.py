"""A deterministic census-income-like sample (the UCI Adult columns and categories), made offline.

Each row draws its attributes from rough adult.data frequencies, then its income from a logistic
model of age, education, hours, capital gain, marriage, sex and occupation, so a classifier has a
real signal to find. ``random_label=True`` draws the income independently of everything (no
signal). The raw values are what the census recipe expects: trimmed strings, ``?`` for unknown
workclass, occupation and native country.
"""

from __future__ import annotations

import math
import random
from typing import Any

from emr_patterns.spec.databrew import CENSUS_INCOME_COLUMNS

#: The census-income CSV's columns (the library's list: the generator writes what the recipe reads).
COLUMNS = CENSUS_INCOME_COLUMNS

WORKCLASS = {
    "Private": 22696,
    "Self-emp-not-inc": 2541,
    "Local-gov": 2093,
    "?": 1836,
    "State-gov": 1298,
    "Self-emp-inc": 1116,
    "Federal-gov": 960,
    "Without-pay": 14,
    "Never-worked": 7,
}
EDUCATION = {  # name: (education-num, weight)
    "Preschool": (1, 51),
    "1st-4th": (2, 168),
    "5th-6th": (3, 333),
    "7th-8th": (4, 646),
    "9th": (5, 514),
    "10th": (6, 933),
    "11th": (7, 1175),
    "12th": (8, 433),
    "HS-grad": (9, 10501),
    "Some-college": (10, 7291),
    "Assoc-voc": (11, 1382),
    "Assoc-acdm": (12, 1067),
    "Bachelors": (13, 5355),
    "Masters": (14, 1723),
    "Prof-school": (15, 576),
    "Doctorate": (16, 413),
}
MARITAL = {
    "Married-civ-spouse": 14976,
    "Never-married": 10683,
    "Divorced": 4443,
    "Separated": 1025,
    "Widowed": 993,
    "Married-spouse-absent": 418,
    "Married-AF-spouse": 23,
}
OCCUPATION = {
    "Prof-specialty": 4140,
    "Craft-repair": 4099,
    "Exec-managerial": 4066,
    "Adm-clerical": 3770,
    "Sales": 3650,
    "Other-service": 3295,
    "Machine-op-inspct": 2002,
    "?": 1843,
    "Transport-moving": 1597,
    "Handlers-cleaners": 1370,
    "Farming-fishing": 994,
    "Tech-support": 928,
    "Protective-serv": 649,
    "Priv-house-serv": 149,
    "Armed-Forces": 9,
}
RACE = {"White": 27816, "Black": 3124, "Asian-Pac-Islander": 1039, "Amer-Indian-Eskimo": 311, "Other": 271}
COUNTRY = {"United-States": 29170, "Mexico": 643, "?": 583, "Philippines": 198, "Germany": 137, "Canada": 121}


def _pick(rng: random.Random, weights: dict[str, Any]) -> str:
    names = list(weights)
    values = [w[1] if isinstance(w, tuple) else w for w in weights.values()]
    return rng.choices(names, weights=values, k=1)[0]


def census_rows(n: int = 2000, seed: int = 7, *, random_label: bool = False) -> list[dict[str, Any]]:
    """``n`` raw census rows (dicts keyed by :data:`COLUMNS`), the same for the same arguments."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        age = max(17, min(90, int(rng.gauss(38, 13))))
        sex = "Male" if rng.random() < 0.67 else "Female"
        marital = _pick(rng, MARITAL) if age > 20 else "Never-married"
        if marital in ("Married-civ-spouse", "Married-AF-spouse"):
            relationship = "Husband" if sex == "Male" else "Wife"
        else:
            relationship = rng.choice(["Not-in-family", "Own-child", "Unmarried", "Other-relative"])
        education = _pick(rng, EDUCATION)
        education_num = EDUCATION[education][0]
        occupation = _pick(rng, OCCUPATION)
        workclass = "?" if occupation == "?" and rng.random() < 0.9 else _pick(rng, WORKCLASS)
        hours = max(1, min(99, int(rng.gauss(41 if sex == "Male" else 36, 11))))
        gain = rng.choice([0] * 11 + [2174, 5178, 7688, 15024]) if rng.random() < 0.3 else 0
        loss = rng.choice([1902, 1977, 1887]) if rng.random() < 0.05 else 0
        score = (
            -9.0
            + 0.04 * age
            + 0.38 * education_num
            + 0.03 * hours
            + (2.0 if marital == "Married-civ-spouse" else 0.0)
            + (0.4 if sex == "Male" else 0.0)
            + (0.8 if occupation in ("Exec-managerial", "Prof-specialty") else 0.0)
            + (2.5 if gain >= 7688 else 0.0)
        )
        rich = rng.random() < 1.0 / (1.0 + math.exp(-score))
        if random_label:
            rich = rng.random() < 0.25
        rows.append(
            {
                "age": age,
                "workclass": workclass,
                "fnlwgt": rng.randint(12285, 1484705),
                "education": education,
                "education-num": education_num,
                "marital-status": marital,
                "occupation": occupation,
                "relationship": relationship,
                "race": _pick(rng, RACE),
                "sex": sex,
                "capital-gain": gain,
                "capital-loss": loss,
                "hours-per-week": hours,
                "native-country": _pick(rng, COUNTRY),
                "income": ">50K" if rich else "<=50K",
            }
        )
    return rows


def census_frame(n: int = 2000, seed: int = 7, *, random_label: bool = False) -> Any:
    """:func:`census_rows` as a pandas DataFrame with the census column order."""
    import pandas as pd

    return pd.DataFrame(census_rows(n, seed, random_label=random_label), columns=list(COLUMNS))
