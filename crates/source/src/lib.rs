//! vigie-source (to be written).
