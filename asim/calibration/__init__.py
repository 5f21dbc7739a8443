"""Calibration: the file that holds a machine's fitted costs (`file`) and the fit that makes it
from measured runs (`fit`; the measuring itself is `asim.lab.measure`)."""
