//! The report's status language: one colour scale used everywhere
//! (graph nodes, zone cards, service table, answer banner), so that a
//! reader who learned "red = compromised" in one place can read every
//! other place.

/// A status as the reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tone {
    /// Reached by the attacker / down / confirmed (red).
    Red,
    /// Suspect, degraded, partial evidence (amber).
    Amber,
    /// Not reached with evidence / working (green).
    Green,
    /// No evidence either way (grey): never shown as green, because
    /// "we could not see" is not "nothing happened".
    Grey,
    /// Attacker infrastructure outside the organisation (violet).
    External,
}

impl Tone {
    /// CSS class suffix (`tone-red`, ...), defined in the stylesheet.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Red => "tone-red",
            Tone::Amber => "tone-amber",
            Tone::Green => "tone-green",
            Tone::Grey => "tone-grey",
            Tone::External => "tone-ext",
        }
    }

    /// Strong colour (borders, bars, text on light background).
    pub fn strong(self) -> &'static str {
        match self {
            Tone::Red => "#b42318",
            Tone::Amber => "#b54708",
            Tone::Green => "#067647",
            Tone::Grey => "#667085",
            Tone::External => "#6941c6",
        }
    }

    /// Light tint (fills).
    pub fn tint(self) -> &'static str {
        match self {
            Tone::Red => "#fef3f2",
            Tone::Amber => "#fffaeb",
            Tone::Green => "#ecfdf3",
            Tone::Grey => "#f2f4f7",
            Tone::External => "#f4f3ff",
        }
    }

    /// Severity order used to summarise a group (worst first).
    pub fn severity(self) -> u8 {
        match self {
            Tone::Red => 4,
            Tone::Amber => 3,
            Tone::External => 2,
            Tone::Grey => 1,
            Tone::Green => 0,
        }
    }

    /// The worse of two tones.
    pub fn worst(self, other: Tone) -> Tone {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}
