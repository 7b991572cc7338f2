//! vigie-scope (to be written).
