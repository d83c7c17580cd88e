//! The tray icons, embedded in the binary (rendered from `icons/src`).

use crate::core::tray_view::IconState;

/// The 32 px colour icon for a state, as PNG bytes.
pub fn png(state: IconState) -> &'static [u8] {
    macro_rules! icon {
        ($name:literal) => {
            include_bytes!(concat!("../../icons/png/32/", $name, ".png"))
        };
    }
    match state {
        IconState::Error => icon!("error"),
        IconState::Attention => icon!("attention"),
        IconState::Working(0) => icon!("working"),
        IconState::Working(1) => icon!("working-1"),
        IconState::Working(2) => icon!("working-2"),
        IconState::Working(3) => icon!("working-3"),
        IconState::Working(4) => icon!("working-4"),
        IconState::Working(5) => icon!("working-5"),
        IconState::Working(6) => icon!("working-6"),
        IconState::Working(7) => icon!("working-7"),
        IconState::Working(8) => icon!("working-8"),
        IconState::Working(9) => icon!("working-9"),
        IconState::Working(_) => icon!("working-9plus"),
        IconState::Starting => icon!("starting"),
        IconState::Stopped => icon!("stopped"),
        IconState::Idle => icon!("idle"),
    }
}

/// Decodes a PNG into 8-bit RGBA: (pixels, width, height).
#[cfg(target_os = "linux")]
pub fn rgba(state: IconState) -> Result<(Vec<u8>, u32, u32), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png(state)));
    decoder.set_transformations(
        png::Transformations::normalize_to_color8() | png::Transformations::ALPHA,
    );
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("icon too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => return Err(format!("unexpected icon colour type {other:?}")),
    };
    Ok((rgba, info.width, info.height))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_distinct_decodable_icon() {
        let states = [
            IconState::Error,
            IconState::Attention,
            IconState::Working(0),
            IconState::Working(3),
            IconState::Working(42),
            IconState::Starting,
            IconState::Stopped,
            IconState::Idle,
        ];
        let mut seen = Vec::new();
        for state in states {
            let (pixels, w, h) = rgba(state).unwrap();
            assert_eq!((w, h), (32, 32), "{state:?}");
            assert_eq!(pixels.len(), 32 * 32 * 4);
            assert!(
                !seen.contains(&pixels),
                "{state:?} looks like another state"
            );
            seen.push(pixels);
        }
    }
}
