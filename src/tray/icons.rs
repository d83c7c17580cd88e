//! The tray icons, embedded in the binary (rendered from `icons/src`).

use crate::config::IconStyle;
use crate::core::tray_view::IconState;

/// The 32 px icon for a state in a style, as PNG bytes.
pub fn png(state: IconState, style: IconStyle) -> &'static [u8] {
    macro_rules! pick {
        ($name:literal) => {
            match style {
                IconStyle::Color => {
                    include_bytes!(concat!("../../icons/png/32/", $name, ".png")).as_slice()
                }
                IconStyle::MonoLight => {
                    include_bytes!(concat!("../../icons/png/mono/32/", $name, ".png")).as_slice()
                }
                IconStyle::MonoDark => {
                    include_bytes!(concat!("../../icons/png/mono-dark/32/", $name, ".png"))
                        .as_slice()
                }
            }
        };
    }
    match state {
        IconState::Error => pick!("error"),
        IconState::Attention => pick!("attention"),
        IconState::Working(0) => pick!("working"),
        IconState::Working(1) => pick!("working-1"),
        IconState::Working(2) => pick!("working-2"),
        IconState::Working(3) => pick!("working-3"),
        IconState::Working(4) => pick!("working-4"),
        IconState::Working(5) => pick!("working-5"),
        IconState::Working(6) => pick!("working-6"),
        IconState::Working(7) => pick!("working-7"),
        IconState::Working(8) => pick!("working-8"),
        IconState::Working(9) => pick!("working-9"),
        IconState::Working(_) => pick!("working-9plus"),
        IconState::Starting => pick!("starting"),
        IconState::Stopped => pick!("stopped"),
        IconState::Idle => pick!("idle"),
    }
}

/// Decodes a PNG into 8-bit RGBA: (pixels, width, height).
pub fn rgba(state: IconState, style: IconStyle) -> Result<(Vec<u8>, u32, u32), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png(state, style)));
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
        for style in [IconStyle::Color, IconStyle::MonoLight, IconStyle::MonoDark] {
            let mut seen = Vec::new();
            for state in states {
                let (pixels, w, h) = rgba(state, style).unwrap();
                assert_eq!((w, h), (32, 32), "{state:?}");
                assert_eq!(pixels.len(), 32 * 32 * 4);
                assert!(
                    !seen.contains(&pixels),
                    "{state:?} looks like another state in {style:?}"
                );
                seen.push(pixels);
            }
        }
    }
}
