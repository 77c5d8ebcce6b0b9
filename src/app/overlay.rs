//! What is drawn over the current view and gets keys before it: help, dialogs,
//! the redrive form and the queue filter being typed. A stack, newest on top;
//! the top one gets every key (see `App::on_key`), and closing it uncovers the
//! one below, as gitui's popup stack does.

use super::popup::Popup;
use super::redrive::RedriveForm;

/// One thing over the view.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// Help, scrolled down to its line `scroll`.
    Help {
        scroll: usize,
    },
    /// A dialog, its body scrolled down by `scroll` lines (its key line stays).
    Popup {
        popup: Popup,
        scroll: usize,
    },
    RedriveForm(RedriveForm),
    /// Typing the queue filter after `/`.
    QueueFilter,
}

/// The overlays, bottom first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlays(Vec<Overlay>);

impl Overlays {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The overlay that gets keys.
    pub fn top(&self) -> Option<&Overlay> {
        self.0.last()
    }

    /// Bottom first, the order they are drawn in.
    pub fn iter(&self) -> impl Iterator<Item = &Overlay> {
        self.0.iter()
    }

    pub fn push(&mut self, overlay: Overlay) {
        self.0.push(overlay);
    }

    /// Opens help at its first line (or scrolls the open help back to it).
    pub fn open_help(&mut self) {
        self.0.retain(|o| !matches!(o, Overlay::Help { .. }));
        self.0.push(Overlay::Help { scroll: 0 });
    }

    /// The first line of help shown, when help is open.
    pub fn help(&self) -> Option<usize> {
        self.0.iter().rev().find_map(|o| match o {
            Overlay::Help { scroll } => Some(*scroll),
            _ => None,
        })
    }

    pub(crate) fn help_mut(&mut self) -> Option<&mut usize> {
        self.0.iter_mut().rev().find_map(|o| match o {
            Overlay::Help { scroll } => Some(scroll),
            _ => None,
        })
    }

    pub(crate) fn close_help(&mut self) {
        self.0.retain(|o| !matches!(o, Overlay::Help { .. }));
    }

    /// The topmost dialog.
    pub fn popup(&self) -> Option<&Popup> {
        self.0.iter().rev().find_map(|o| match o {
            Overlay::Popup { popup, .. } => Some(popup),
            _ => None,
        })
    }

    pub(crate) fn popup_mut(&mut self) -> Option<&mut Popup> {
        self.0.iter_mut().rev().find_map(|o| match o {
            Overlay::Popup { popup, .. } => Some(popup),
            _ => None,
        })
    }

    /// Scrolls the topmost dialog's body by `by` lines, within its `lines` lines.
    pub(crate) fn scroll_popup(&mut self, by: isize, lines: usize) {
        if let Some(scroll) = self.0.iter_mut().rev().find_map(|o| match o {
            Overlay::Popup { scroll, .. } => Some(scroll),
            _ => None,
        }) {
            *scroll = scroll
                .saturating_add_signed(by)
                .min(lines.saturating_sub(1));
        }
    }

    /// Shows a dialog: in place of the dialog on top, which it follows on from
    /// (a picker's confirmation), else over everything.
    pub(crate) fn show_popup(&mut self, popup: Popup) {
        match self.0.last_mut() {
            Some(Overlay::Popup { popup: p, scroll }) => (*p, *scroll) = (popup, 0),
            _ => self.0.push(Overlay::Popup { popup, scroll: 0 }),
        }
    }

    /// Closes the topmost dialog.
    pub(crate) fn close_popup(&mut self) {
        if let Some(i) = self
            .0
            .iter()
            .rposition(|o| matches!(o, Overlay::Popup { .. }))
        {
            self.0.remove(i);
        }
    }

    /// The redrive form, when open.
    pub fn form(&self) -> Option<&RedriveForm> {
        self.0.iter().rev().find_map(|o| match o {
            Overlay::RedriveForm(f) => Some(f),
            _ => None,
        })
    }

    pub(crate) fn form_mut(&mut self) -> Option<&mut RedriveForm> {
        self.0.iter_mut().rev().find_map(|o| match o {
            Overlay::RedriveForm(f) => Some(f),
            _ => None,
        })
    }

    pub(crate) fn close_form(&mut self) {
        self.0.retain(|o| !matches!(o, Overlay::RedriveForm(_)));
    }

    /// Whether the queue filter is being typed.
    pub fn filtering(&self) -> bool {
        self.0.iter().any(|o| matches!(o, Overlay::QueueFilter))
    }

    pub(crate) fn close_filter(&mut self) {
        self.0.retain(|o| !matches!(o, Overlay::QueueFilter));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::popup::Pending;

    fn confirm(title: &str) -> Popup {
        Popup::Confirm {
            title: title.into(),
            lines: Vec::new(),
            on_yes: Pending::KeepRawEdit,
        }
    }

    #[test]
    fn the_newest_gets_keys_and_closing_it_uncovers_the_one_below() {
        let mut o = Overlays::default();
        o.push(Overlay::QueueFilter);
        o.show_popup(confirm("a"));
        o.open_help();
        assert!(matches!(o.top(), Some(Overlay::Help { scroll: 0 })));
        o.close_help();
        assert_eq!(o.popup(), Some(&confirm("a")));
        assert!(matches!(o.top(), Some(Overlay::Popup { .. })));
        o.show_popup(confirm("b"));
        assert_eq!(
            o.iter().count(),
            2,
            "a dialog follows on from the one on top"
        );
        o.close_popup();
        assert_eq!(o.top(), Some(&Overlay::QueueFilter));
        assert!(o.filtering());
        o.close_filter();
        assert!(o.is_empty());
    }
}
