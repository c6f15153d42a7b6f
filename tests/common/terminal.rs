//! A pseudo-terminal for tests of what frametap prints on a terminal of a given width.

/// A pseudo-terminal: frametap's stdout (or stderr) is its slave side; what it prints is read, line by line, from the
/// master.
pub struct Terminal {
    master: std::os::fd::OwnedFd,
    slave: Option<std::os::fd::OwnedFd>,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Terminal {
    pub fn open(columns: u16) -> Terminal {
        use std::io::BufRead;
        use std::os::fd::{FromRawFd, OwnedFd};
        let (mut master, mut slave) = (-1, -1);
        // `mut`, and a null `*mut` for the termios, as macOS declares them (Linux takes `*const`, which both coerce to).
        let mut size = libc::winsize { ws_row: 30, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty writes two descriptors it opened, which are then owned here.
        let (master, slave) = unsafe {
            let opened = libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::addr_of_mut!(size),
            );
            assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
            (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
        };
        let reader = std::fs::File::from(master.try_clone().unwrap());
        let (sender, lines) = std::sync::mpsc::channel();
        // Drained all along, so frametap never blocks on a full terminal; ends with EIO once frametap exits.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if sender.send(line.trim_end_matches('\r').to_owned()).is_err() {
                    break;
                }
            }
        });
        Terminal { master, slave: Some(slave), lines }
    }

    /// The slave side, for the child's stdout (once: only the child holds it then, so the reader sees the end).
    pub fn slave(&mut self) -> std::process::Stdio {
        std::process::Stdio::from(self.slave.take().expect("one child"))
    }

    /// Resizes the window, as a terminal emulator does when its window is dragged.
    pub fn resize(&self, columns: u16) {
        use std::os::fd::AsRawFd;
        let size = libc::winsize { ws_row: 30, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer on an open descriptor.
        let done = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(done, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }
}
