//! Python logging through the `log` facade (feature `log`): a test logger
//! records what it gets; level mapping, target, message, context name,
//! exception text and the facade's max level are checked. Its own test
//! binary, since a process has one global logger.
#![cfg(feature = "log")]

mod support {
    pub mod common;
}

use std::sync::Mutex;
use std::time::Duration;

use pyctx::{ContextOptions, Mode};
use support::common::runtime;

#[derive(Debug, Clone, PartialEq)]
struct Got {
    level: log::Level,
    target: String,
    message: String,
}

struct TestLogger {
    records: Mutex<Vec<Got>>,
}

impl log::Log for TestLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.records.lock().unwrap().push(Got {
            level: record.level(),
            target: record.target().to_string(),
            message: record.args().to_string(),
        });
    }
    fn flush(&self) {}
}

static LOGGER: TestLogger = TestLogger { records: Mutex::new(Vec::new()) };

fn take() -> Vec<Got> {
    std::mem::take(&mut *LOGGER.records.lock().unwrap())
}

fn got(level: log::Level, target: &str, message: &str) -> Got {
    Got { level, target: target.to_string(), message: message.to_string() }
}

#[test]
fn python_records_reach_the_log_facade() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let rt = runtime();
    let modes = if rt.owngil_supported() { vec![Mode::Worker, Mode::OwnGil] } else { vec![Mode::Worker] };
    for mode in modes {
        let name = format!("facade-{mode:?}");
        let ctx = rt.context(&ContextOptions::new().mode(mode).name(&name)).unwrap();
        pyctx::log::forward_to_log(5, 100).unwrap();
        let before = pyctx::log::stats();
        ctx.exec(
            "import logging\n\
             log = logging.getLogger('py.facade')\n\
             log.log(4, 'below the minimum')\n\
             log.log(5, 'trace %d', 5)\n\
             log.debug('debug')\n\
             log.info('info')\n\
             log.warning('warning')\n\
             log.error('error')\n\
             log.critical('critical')\n\
             try:\n    1 / 0\n\
             except ZeroDivisionError:\n    log.exception('failed')\n",
        )
        .unwrap();
        pyctx::log::flush(Duration::from_secs(10)).unwrap();
        let records = take();
        let tag = format!(" [context {name}]");
        let expect = [
            (log::Level::Trace, "trace 5"),
            (log::Level::Debug, "debug"),
            (log::Level::Info, "info"),
            (log::Level::Warn, "warning"),
            (log::Level::Error, "error"),
            (log::Level::Error, "critical"),
        ];
        assert_eq!(records.len(), expect.len() + 1, "{records:?}");
        for (r, (level, message)) in records.iter().zip(expect) {
            assert_eq!(*r, got(level, "py.facade", &format!("{message}{tag}")));
        }
        let last = &records[expect.len()];
        assert_eq!((last.level, last.target.as_str()), (log::Level::Error, "py.facade"));
        let (head, exception) = last.message.split_once('\n').expect("an exception after the message");
        assert_eq!(head, format!("failed{tag}"));
        assert!(exception.starts_with("Traceback"), "{exception}");
        assert!(exception.contains("ZeroDivisionError: division by zero"), "{exception}");
        let after = pyctx::log::stats();
        assert_eq!(after.delivered - before.delivered, 7);
        assert_eq!(after.dropped, before.dropped);
    }

    // The facade's max level filters as the log macros do: the record is
    // handled (counted as delivered) but the logger never sees it.
    let ctx = rt.context(&ContextOptions::new().name("facade-max")).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    ctx.exec(
        "import logging\nlogging.getLogger('py.max').info('hidden')\nlogging.getLogger().warning('shown')",
    )
    .unwrap();
    pyctx::log::flush(Duration::from_secs(10)).unwrap();
    assert_eq!(take(), vec![got(log::Level::Warn, "root", "shown [context facade-max]")]);
    pyctx::log::clear_handler().unwrap();
}

#[test]
fn level_mapping() {
    use pyctx::log::facade_level;
    let cases = [
        (60, log::Level::Error),
        (50, log::Level::Error),
        (40, log::Level::Error),
        (39, log::Level::Warn),
        (30, log::Level::Warn),
        (20, log::Level::Info),
        (10, log::Level::Debug),
        (9, log::Level::Trace),
        (0, log::Level::Trace),
    ];
    for (n, level) in cases {
        assert_eq!(facade_level(n), level, "Python level {n}");
    }
}
