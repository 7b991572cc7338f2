//! vigie-scenario (to be written).
