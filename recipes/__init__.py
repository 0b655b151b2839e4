"""Training recipes: one module per recipe, each with `get_config()`.

Run one with `python -m recipes.train RECIPE`; see recipes/train.py.
"""

import importlib

RECIPES = ("fashion_mnist", "cifar10", "cifar10_hybrid", "celeba64", "lsun_bedroom64", "tiny")


def get_config(name):
    """The config of recipe `name`; `ValueError` listing the recipes if unknown."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Choices: {list(RECIPES)}")
    config = importlib.import_module(f".{name}", __name__).get_config()
    config["recipe"] = name
    return config
