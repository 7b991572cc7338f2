//! Unit tests of correlation parsing and evaluation.
