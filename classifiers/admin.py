"""Admin of the classifiers features; each feature registers its own (Django's autodiscover imports this)."""

from classifiers.imports import admin as imports_admin  # noqa: F401
from classifiers.labelling import admin as labelling_admin  # noqa: F401
from classifiers.labelling import items_admin  # noqa: F401
from classifiers.themes import admin as themes_admin  # noqa: F401
from classifiers.training import admin as training_admin  # noqa: F401
