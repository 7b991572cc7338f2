//! vigie-report (to be written).
