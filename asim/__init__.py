"""asim: predict, then prove, how web servers behave under ApacheBench load."""

__version__ = "0.1.0"
