//! Where the last frame drew what: written by drawing (`ui::draw`), handed to `App::update`
//! (`Msg::Drawn`), so that clicks and paging act on what the user sees and update computes no
//! layout of its own.

use ratatui::layout::Rect;

/// The rows one transfer took in the Transfers panel (counted from the panel's first inner row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferRows {
    /// Its index among the transfers shown.
    pub index: usize,
    pub top: u16,
    pub rows: u16,
}

/// The panels a click can reach, and what they drew inside. All empty before the first frame,
/// or when the terminal is too small for the layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAreas {
    pub bar: Rect,
    pub log: Rect,
    pub network: Rect,
    pub transfers: Rect,
    /// The Network files panel's inner row of its first file (below the tracker's state).
    pub first_file_row: usize,
    /// Each transfer drawn, newest first.
    pub transfer_rows: Vec<TransferRows>,
}

impl FrameAreas {
    /// Rows of log text on screen (at least one).
    pub fn log_rows(&self) -> usize {
        usize::from(self.log.height.saturating_sub(2)).max(1)
    }

    /// The transfer drawn on the Transfers panel's inner `row`.
    pub fn transfer_at(&self, row: u16) -> Option<usize> {
        (self.transfer_rows.iter())
            .find(|p| row >= p.top && row < p.top + p.rows)
            .map(|p| p.index)
    }
}
