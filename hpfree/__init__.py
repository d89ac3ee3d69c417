"""hpfree: find and test hyperparameter-free training algorithms the way AlgoPerf scores them."""

__version__ = "0.1.0"
