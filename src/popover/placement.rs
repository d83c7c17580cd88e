//! Where the popover goes: beside the tray icon that was clicked, kept on
//! that icon's screen; near a screen corner when there is no click position
//! (`opencode-nexus open`, a notification, a shortcut).

use crate::core::popover_lifecycle::ScreenPoint;

/// Gap between the window and the icon or the screen edge.
const MARGIN: i32 = 8;
/// Room left for a panel at the bottom when placing near the corner.
const PANEL_ROOM: i32 = 48;

/// A rectangle in physical pixels (a monitor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

impl Rect {
    fn contains(&self, p: ScreenPoint) -> bool {
        p.x >= self.x && p.x < self.x + self.width && p.y >= self.y && p.y < self.y + self.height
    }
}

/// The window's top-left corner for a window of `size` (width, height).
/// `monitors[0]` is the primary one.
pub fn place(size: (i32, i32), anchor: Option<ScreenPoint>, monitors: &[Rect]) -> (i32, i32) {
    let (w, h) = size;
    let screen = anchor
        .and_then(|a| monitors.iter().find(|m| m.contains(a)))
        .or(monitors.first())
        .copied()
        .unwrap_or(Rect {
            x: 0,
            y: 0,
            width: w + 2 * MARGIN,
            height: h + 2 * MARGIN,
        });
    let (x, y) = match anchor {
        Some(a) => {
            let x = a.x - w / 2;
            // Icon in the top half (a top panel): open below it; otherwise above.
            let y = if a.y < screen.y + screen.height / 2 {
                a.y + MARGIN
            } else {
                a.y - h - MARGIN
            };
            (x, y)
        }
        None => (
            screen.x + screen.width - w - MARGIN * 2,
            screen.y + screen.height - h - PANEL_ROOM,
        ),
    };
    (
        clamp(x, screen.x + MARGIN, screen.x + screen.width - w - MARGIN),
        clamp(y, screen.y + MARGIN, screen.y + screen.height - h - MARGIN),
    )
}

/// Like `Ord::clamp`, but a window larger than the screen keeps its top-left on it.
fn clamp(v: i32, low: i32, high: i32) -> i32 {
    v.min(high).max(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Rect = Rect {
        x: 0,
        y: 0,
        width: 1280,
        height: 800,
    };

    #[test]
    fn opens_below_an_icon_in_a_top_panel_and_above_one_in_a_bottom_panel() {
        let top = place((420, 620), Some(ScreenPoint { x: 1200, y: 10 }), &[SCREEN]);
        assert_eq!(top, (1280 - 420 - 8, 18));
        let bottom = place((420, 620), Some(ScreenPoint { x: 600, y: 790 }), &[SCREEN]);
        assert_eq!(bottom, (600 - 210, 790 - 620 - 8));
    }

    #[test]
    fn without_a_click_it_sits_near_the_bottom_right_corner() {
        let (x, y) = place((420, 620), None, &[SCREEN]);
        assert_eq!((x, y), (1280 - 420 - 16, 800 - 620 - 48));
    }

    #[test]
    fn stays_on_the_clicked_monitor() {
        let second = Rect {
            x: 1280,
            y: 0,
            width: 1920,
            height: 1080,
        };
        let (x, y) = place(
            (420, 620),
            Some(ScreenPoint { x: 3190, y: 5 }),
            &[SCREEN, second],
        );
        assert_eq!((x, y), (1280 + 1920 - 420 - 8, 13));
    }

    #[test]
    fn a_window_bigger_than_the_screen_keeps_its_corner_visible() {
        let tiny = Rect {
            x: 0,
            y: 0,
            width: 300,
            height: 300,
        };
        assert_eq!(place((420, 620), None, &[tiny]), (8, 8));
        // No monitor information at all still gives a position.
        assert_eq!(place((420, 620), None, &[]), (8, 8));
    }
}
