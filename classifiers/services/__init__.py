"""State-changing functions of the classifiers app, split by responsibility."""
