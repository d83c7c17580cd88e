//! The quick-chat popover process.
pub fn probe() {
    let event_loop = tao::event_loop::EventLoop::new();
    let window = tao::window::WindowBuilder::new()
        .build(&event_loop)
        .unwrap();
    let builder = wry::WebViewBuilder::new().with_html("hi");
    use tao::platform::unix::WindowExtUnix;
    use wry::WebViewBuilderExtUnix;
    let _w = builder.build_gtk(window.default_vbox().unwrap()).unwrap();
}
