//! vigie-hunt (to be written).
