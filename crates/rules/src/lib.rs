//! vigie-rules (to be written).
