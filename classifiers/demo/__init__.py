"""The demo course: our own writing, generated deterministically from the phrase banks below."""
