//! A sandboxed context refuses a blocked operation with PermissionError;
//! a memory limit on a worker context is unsupported.

mod support {
    pub mod common;
}

use pyctx::{ContextOptions, ErrorKind, Mode, Sandbox};
use support::common::{MODES, runtime};

#[test]
fn a_blocked_socket_raises_permission_error() {
    for mode in MODES {
        if mode == Mode::OwnGil && !runtime().owngil_supported() {
            continue;
        }
        let options =
            ContextOptions::new().mode(mode).name("sandboxed").sandbox(Sandbox::new().block_sockets());
        let ctx = runtime().context(&options).expect("create a sandboxed context");
        let err = ctx.exec("import socket\nsocket.socket()").expect_err("the socket must be refused");
        assert_eq!(err.kind(), ErrorKind::Python, "{err}");
        assert_eq!(err.python_type(), Some("PermissionError"), "{err}");
        assert!(err.message().contains("socket.__new__"), "{err}");
        assert!(err.message().contains("sockets blocked"), "{err}");
        // Socket pairs stay possible (asyncio's self-pipe).
        ctx.exec("import socket\na, b = socket.socketpair()\na.close(); b.close()").expect("socketpair");
    }
}

#[test]
fn a_memory_limit_needs_owngil() {
    let err = runtime()
        .context(&ContextOptions::new().mode(Mode::Worker).memory_limit(64 << 20))
        .err()
        .expect("a worker context cannot be capped");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}
