//! Typed capability handles: one newtype per kernel object type over a
//! capability address, with the object's operations as methods.
//!
//! A handle is only a name (a capability address in the caller's CSpace),
//! so it is [`Copy`] and making one is safe: the kernel checks on every use
//! that the address holds a capability of the right type and with the
//! rights the operation needs (else [`Error::WrongType`],
//! [`Error::MissingRight`], [`Error::InvalidCapability`]). What the types
//! add is that passing, say, a frame where the kernel wants a VSpace is a
//! compile error rather than a `WrongType` at run time.
//!
//! The untyped functions of [`crate::invoke`] and [`crate::ipc`] stay
//! public for code that needs to pass a wrong type on purpose (the
//! on-target test suite does).
//!
//! ```no_run
//! use libcap::{CNode, Endpoint, Untyped};
//!
//! // In the root task, slot 2 is the root CNode and slot 8 untyped memory.
//! let cnode = CNode::from_raw(2);
//! let memory = Untyped::from_raw(8);
//! let ep: Endpoint = memory.retype_one(0, cnode, 100).expect("retype");
//! let _ = ep.nb_send(&libcap::ipc::Message::new(1, &[42]));
//! ```

use crate::invoke;
use crate::ipc::{self, Message, Received};
use basalt_abi::{Error, ObjectType, Rights};

/// What every typed handle has: its capability address.
///
/// ```
/// use libcap::{Capability, Endpoint};
///
/// let ep = Endpoint::from_raw(12);
/// assert_eq!(ep.addr(), 12);
/// assert_eq!(Endpoint::from_raw(ep.addr()), ep);
/// ```
pub trait Capability: Copy {
    /// The capability address this handle names.
    ///
    /// ```
    /// use libcap::{Capability, Frame};
    /// assert_eq!(Frame::from_raw(7).addr(), 7);
    /// ```
    fn addr(self) -> u64;
}

/// A kernel object type that [`Untyped::retype_one`] can make.
///
/// ```
/// use libcap::{KernelObject, Notification};
/// use libcap::abi::ObjectType;
///
/// assert_eq!(Notification::TYPE, ObjectType::Notification);
/// ```
pub trait KernelObject: Capability {
    /// The object type [`invoke::untyped_retype`] is asked for.
    ///
    /// ```
    /// use libcap::{KernelObject, Tcb};
    /// assert_eq!(Tcb::TYPE, libcap::abi::ObjectType::Tcb);
    /// ```
    const TYPE: ObjectType;
    /// The handle for capability address `addr`.
    ///
    /// ```
    /// use libcap::{Capability, KernelObject, VSpace};
    /// assert_eq!(<VSpace as KernelObject>::from_addr(3).addr(), 3);
    /// ```
    fn from_addr(addr: u64) -> Self;
}

macro_rules! handle {
    ($(#[$meta:meta])* $name:ident $(, $ty:ident)?) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            /// The handle for capability address `addr`. Nothing is
            /// checked here: the kernel checks the capability on each use.
            ///
            /// ```
            #[doc = concat!("let cap = libcap::", stringify!($name), "::from_raw(9);")]
            /// assert_eq!(cap.raw(), 9);
            /// ```
            pub const fn from_raw(addr: u64) -> Self {
                Self(addr)
            }

            /// The capability address, for the untyped functions of
            /// [`crate::invoke`] and [`crate::ipc`].
            ///
            /// ```
            #[doc = concat!("assert_eq!(libcap::", stringify!($name), "::from_raw(5).raw(), 5);")]
            /// ```
            pub const fn raw(self) -> u64 {
                self.0
            }
        }

        impl Capability for $name {
            fn addr(self) -> u64 {
                self.0
            }
        }

        $(
            impl KernelObject for $name {
                const TYPE: ObjectType = ObjectType::$ty;
                fn from_addr(addr: u64) -> Self {
                    Self(addr)
                }
            }
        )?
    };
}

handle!(
    /// An endpoint: messages and calls between threads (see [`crate::ipc`]).
    ///
    /// ```no_run
    /// use libcap::Endpoint;
    /// use libcap::ipc::Message;
    ///
    /// let ep = Endpoint::from_raw(9);
    /// let reply = ep.call(&Message::new(1, &[2, 3])).expect("call");
    /// println!("answer {}", reply.message.word(0));
    /// ```
    Endpoint,
    Endpoint
);
handle!(
    /// A notification: a word of signal bits threads wait on.
    ///
    /// ```no_run
    /// let ntfn = libcap::Notification::from_raw(10);
    /// ntfn.signal().expect("signal");
    /// let bits = ntfn.wait().expect("wait");
    /// # let _ = bits;
    /// ```
    Notification,
    Notification
);
handle!(
    /// Untyped memory, from which every other object is made.
    ///
    /// ```no_run
    /// use libcap::{CNode, Notification, Untyped};
    /// let n: Notification = Untyped::from_raw(8)
    ///     .retype_one(0, CNode::from_raw(2), 40)
    ///     .expect("retype");
    /// # let _ = n;
    /// ```
    Untyped,
    Untyped
);
handle!(
    /// A CNode: an array of capability slots.
    ///
    /// ```no_run
    /// let cnode = libcap::CNode::from_raw(2);
    /// cnode.delete(40).expect("delete");
    /// ```
    CNode,
    CNode
);
handle!(
    /// A thread control block.
    ///
    /// ```no_run
    /// let tcb = libcap::Tcb::from_raw(30);
    /// tcb.set_priority(100).expect("priority");
    /// tcb.resume().expect("resume");
    /// ```
    Tcb,
    Tcb
);
handle!(
    /// An address space (its top-level page table).
    ///
    /// ```no_run
    /// use libcap::{Frame, VSpace};
    /// use libcap::abi::Rights;
    /// Frame::from_raw(31)
    ///     .map(VSpace::from_raw(3), 0x1000_0000_0000, Rights::READ | Rights::WRITE)
    ///     .expect("map");
    /// ```
    VSpace,
    VSpace
);
handle!(
    /// A page table (level 1: 4 KiB pages, 2 MiB of address space); it maps
    /// into a [`PageDirectory`].
    ///
    /// ```no_run
    /// use libcap::{PageTable, VSpace};
    /// PageTable::from_raw(32).map(VSpace::from_raw(3), 0x1000_0000_0000).expect("map");
    /// ```
    PageTable,
    PageTable
);
handle!(
    /// A page directory (level 2: page tables or 2 MiB pages, 1 GiB of
    /// address space); it maps into a [`Pdpt`].
    ///
    /// ```no_run
    /// use libcap::{PageDirectory, VSpace};
    /// PageDirectory::from_raw(33).map(VSpace::from_raw(3), 0x1000_0000_0000).expect("map");
    /// ```
    PageDirectory,
    PageDirectory
);
handle!(
    /// A page-directory-pointer table (level 3: page directories, 512 GiB
    /// of address space); it maps into a [`VSpace`].
    ///
    /// ```no_run
    /// use libcap::{Pdpt, VSpace};
    /// Pdpt::from_raw(34).map(VSpace::from_raw(3), 0x1000_0000_0000).expect("map");
    /// ```
    Pdpt,
    Pdpt
);
handle!(
    /// A 4 KiB or 2 MiB frame of memory.
    ///
    /// ```no_run
    /// let phys = libcap::Frame::from_raw(6).physical_address().expect("address");
    /// # let _ = phys;
    /// ```
    Frame,
    Frame4K
);
handle!(
    /// Authority to create IRQ handlers (the root task's slot 4).
    ///
    /// ```no_run
    /// use libcap::{CNode, IrqControl};
    /// let handler = IrqControl::from_raw(4).get(8, CNode::from_raw(2), 50).expect("irq");
    /// # let _ = handler;
    /// ```
    IrqControl
);
handle!(
    /// One interrupt line.
    ///
    /// ```no_run
    /// use libcap::{IrqHandler, Notification};
    /// let irq = IrqHandler::from_raw(50);
    /// let ntfn = Notification::from_raw(51);
    /// irq.set_notification(ntfn).expect("route");
    /// loop {
    ///     ntfn.wait().expect("wait");
    ///     // ... handle the device ...
    ///     irq.ack().expect("ack");
    /// }
    /// ```
    IrqHandler
);
handle!(
    /// Authority to create I/O-port capabilities (the root task's slot 5).
    ///
    /// ```no_run
    /// use libcap::{CNode, IoPortControl};
    /// let rtc = IoPortControl::from_raw(5).issue(0x70, 0x71, CNode::from_raw(2), 52).expect("ports");
    /// # let _ = rtc;
    /// ```
    IoPortControl
);
handle!(
    /// A range of I/O ports.
    ///
    /// ```no_run
    /// let rtc = libcap::IoPorts::from_raw(52);
    /// rtc.write_u8(0x70, 0x0c).expect("select");
    /// let c = rtc.read_u8(0x71).expect("read");
    /// # let _ = c;
    /// ```
    IoPorts
);

impl Endpoint {
    /// Sends `msg`, waiting until a receiver takes it ([`ipc::send`]).
    ///
    /// ```no_run
    /// use libcap::ipc::Message;
    /// libcap::Endpoint::from_raw(9).send(&Message::new(3, &[1])).expect("send");
    /// ```
    pub fn send(self, msg: &Message) -> Result<(), Error> {
        ipc::send(self.0, msg)
    }

    /// Sends `msg` only if a receiver waits ([`ipc::nb_send`]).
    ///
    /// ```no_run
    /// use libcap::{Error, ipc::Message};
    /// let r = libcap::Endpoint::from_raw(9).nb_send(&Message::empty(3));
    /// assert!(matches!(r, Ok(()) | Err(Error::WouldBlock)));
    /// ```
    pub fn nb_send(self, msg: &Message) -> Result<(), Error> {
        ipc::nb_send(self.0, msg)
    }

    /// Receives a message, waiting for a sender ([`ipc::recv`]).
    ///
    /// ```no_run
    /// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
    /// println!("from badge {}: label {}", r.badge, r.label());
    /// ```
    pub fn recv(self) -> Result<Received, Error> {
        ipc::recv(self.0)
    }

    /// Receives a message only if a sender waits ([`ipc::nb_recv`]).
    ///
    /// ```no_run
    /// if let Ok(r) = libcap::Endpoint::from_raw(9).nb_recv() {
    ///     println!("label {}", r.label());
    /// }
    /// ```
    pub fn nb_recv(self) -> Result<Received, Error> {
        ipc::nb_recv(self.0)
    }

    /// Sends `msg` and waits for the reply ([`ipc::call`]).
    ///
    /// ```no_run
    /// use libcap::ipc::Message;
    /// let reply = libcap::Endpoint::from_raw(9).call(&Message::new(2, &[40, 2])).expect("call");
    /// # let _ = reply;
    /// ```
    pub fn call(self, msg: &Message) -> Result<Received, Error> {
        ipc::call(self.0, msg)
    }

    /// Replies `msg` to the last caller, then receives on this endpoint
    /// ([`ipc::reply_recv`]): a server's loop.
    ///
    /// ```no_run
    /// use libcap::ipc::Message;
    /// let ep = libcap::Endpoint::from_raw(9);
    /// let mut request = ep.recv().expect("recv");
    /// loop {
    ///     let answer = Message::new(0, &[request.message.word(0) + 1]);
    ///     request = ep.reply_recv(&answer).expect("reply_recv");
    /// }
    /// ```
    pub fn reply_recv(self, msg: &Message) -> Result<Received, Error> {
        ipc::reply_recv(self.0, msg)
    }
}

impl Notification {
    /// ORs this capability's badge into the notification word and wakes a
    /// waiter ([`ipc::signal`], needs WRITE).
    ///
    /// ```no_run
    /// libcap::Notification::from_raw(10).signal().expect("signal");
    /// ```
    pub fn signal(self) -> Result<(), Error> {
        ipc::signal(self.0)
    }

    /// Waits until the word is not zero; returns and clears it
    /// ([`ipc::wait`], needs READ).
    ///
    /// ```no_run
    /// let bits = libcap::Notification::from_raw(10).wait().expect("wait");
    /// # let _ = bits;
    /// ```
    pub fn wait(self) -> Result<u64, Error> {
        ipc::wait(self.0)
    }

    /// Like [`wait`](Self::wait), but gives up when the time-stamp
    /// counter reaches `deadline`: [`Error::TimedOut`] ([`ipc::wait_until`]).
    ///
    /// ```no_run
    /// let soon = libcap::time::rdtsc() + 1_000_000;
    /// match libcap::Notification::from_raw(10).wait_until(soon) {
    ///     Ok(bits) => println!("signalled {bits:#x}"),
    ///     Err(libcap::Error::TimedOut) => println!("time"),
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    pub fn wait_until(self, deadline: u64) -> Result<u64, Error> {
        ipc::wait_until(self.0, deadline)
    }

    /// Takes the word without waiting; [`Error::WouldBlock`] when it is
    /// zero ([`ipc::poll`]).
    ///
    /// ```no_run
    /// match libcap::Notification::from_raw(10).poll() {
    ///     Ok(bits) => println!("pending {bits:#x}"),
    ///     Err(libcap::Error::WouldBlock) => println!("nothing"),
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    pub fn poll(self) -> Result<u64, Error> {
        ipc::poll(self.0)
    }
}

impl Untyped {
    /// Makes `count` objects of type `ty` into slots
    /// `dest_index..dest_index + count` of `dest` ([`invoke::untyped_retype`];
    /// `size_bits` for untyped and CNodes only, else 0).
    ///
    /// ```no_run
    /// use libcap::{CNode, Untyped};
    /// use libcap::abi::ObjectType;
    /// Untyped::from_raw(8)
    ///     .retype(ObjectType::Endpoint, 0, 4, CNode::from_raw(2), 100)
    ///     .expect("retype");
    /// ```
    pub fn retype(
        self,
        ty: ObjectType,
        size_bits: u64,
        count: u64,
        dest: CNode,
        dest_index: u64,
    ) -> Result<(), Error> {
        invoke::untyped_retype(self.0, ty, size_bits, count, dest.0, dest_index)
    }

    /// Makes one object of type `T` in slot `dest_index` of `root` and
    /// returns its handle, whose address is `dest_index`: `root` must be
    /// the caller's root CNode in a CSpace that addresses its slots
    /// directly (the root task's and every component's do).
    ///
    /// ```no_run
    /// use libcap::{CNode, Tcb, Untyped};
    /// let tcb: Tcb = Untyped::from_raw(8).retype_one(0, CNode::from_raw(2), 60).expect("retype");
    /// # let _ = tcb;
    /// ```
    pub fn retype_one<T: KernelObject>(
        self,
        size_bits: u64,
        root: CNode,
        dest_index: u64,
    ) -> Result<T, Error> {
        self.retype(T::TYPE, size_bits, 1, root, dest_index)?;
        Ok(T::from_addr(dest_index))
    }
}

impl CNode {
    /// Copies the capability in `src_index` of `src` into the empty slot
    /// `dest_index` of this CNode, keeping only `rights`
    /// ([`invoke::cnode_copy`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, abi::Rights};
    /// let root = CNode::from_raw(2);
    /// root.copy(41, root, 40, Rights::READ).expect("copy");
    /// ```
    pub fn copy(
        self,
        dest_index: u64,
        src: CNode,
        src_index: u64,
        rights: Rights,
    ) -> Result<(), Error> {
        invoke::cnode_copy(self.0, dest_index, src.0, src_index, rights)
    }

    /// Like [`copy`](Self::copy), and sets the copy's badge (or guard)
    /// ([`invoke::cnode_mint`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, abi::Rights};
    /// let root = CNode::from_raw(2);
    /// root.mint(42, root, 40, Rights::CALL | Rights::WRITE, 7).expect("mint");
    /// ```
    pub fn mint(
        self,
        dest_index: u64,
        src: CNode,
        src_index: u64,
        rights: Rights,
        badge_or_guard: u64,
    ) -> Result<(), Error> {
        invoke::cnode_mint(self.0, dest_index, src.0, src_index, rights, badge_or_guard)
    }

    /// Moves a capability into the empty slot `dest_index`
    /// ([`invoke::cnode_move`]).
    ///
    /// ```no_run
    /// let root = libcap::CNode::from_raw(2);
    /// root.move_cap(43, root, 42).expect("move");
    /// ```
    pub fn move_cap(self, dest_index: u64, src: CNode, src_index: u64) -> Result<(), Error> {
        invoke::cnode_move(self.0, dest_index, src.0, src_index)
    }

    /// Moves a capability and sets its badge or guard
    /// ([`invoke::cnode_mutate`]).
    ///
    /// ```no_run
    /// let root = libcap::CNode::from_raw(2);
    /// root.mutate(44, root, 40, 9).expect("mutate");
    /// ```
    pub fn mutate(
        self,
        dest_index: u64,
        src: CNode,
        src_index: u64,
        badge_or_guard: u64,
    ) -> Result<(), Error> {
        invoke::cnode_mutate(self.0, dest_index, src.0, src_index, badge_or_guard)
    }

    /// Empties slot `index` ([`invoke::cnode_delete`]).
    ///
    /// ```no_run
    /// libcap::CNode::from_raw(2).delete(44).expect("delete");
    /// ```
    pub fn delete(self, index: u64) -> Result<(), Error> {
        invoke::cnode_delete(self.0, index)
    }

    /// Deletes everything derived from the capability in slot `index`
    /// ([`invoke::cnode_revoke`]).
    ///
    /// ```no_run
    /// libcap::CNode::from_raw(2).revoke(8).expect("revoke");
    /// ```
    pub fn revoke(self, index: u64) -> Result<(), Error> {
        invoke::cnode_revoke(self.0, index)
    }
}

impl Tcb {
    /// Gives the thread its CSpace root, address space and IPC buffer
    /// (`ipc_frame`, seen by the thread at `ipc_buffer_addr`)
    /// ([`invoke::tcb_configure`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, Frame, Tcb, VSpace};
    /// Tcb::from_raw(30)
    ///     .configure(CNode::from_raw(31), VSpace::from_raw(32), Frame::from_raw(33), 0x7fff_f000_1000)
    ///     .expect("configure");
    /// ```
    pub fn configure(
        self,
        cspace: CNode,
        vspace: VSpace,
        ipc_frame: Frame,
        ipc_buffer_addr: u64,
    ) -> Result<(), Error> {
        invoke::tcb_configure(self.0, cspace.0, vspace.0, ipc_frame.0, ipc_buffer_addr)
    }

    /// Sets the scheduling priority, 0–255 ([`invoke::tcb_set_priority`]).
    ///
    /// ```no_run
    /// libcap::Tcb::from_raw(30).set_priority(150).expect("priority");
    /// ```
    pub fn set_priority(self, priority: u64) -> Result<(), Error> {
        invoke::tcb_set_priority(self.0, priority)
    }

    /// Sets `rip`, `rsp`, `rdi` and `rsi` ([`invoke::tcb_write_registers`]).
    ///
    /// ```no_run
    /// libcap::Tcb::from_raw(30).write_registers(0x40_0000, 0x7fff_e000_0000, 0x7fff_f000_0000, 0).expect("registers");
    /// ```
    pub fn write_registers(self, rip: u64, rsp: u64, rdi: u64, rsi: u64) -> Result<(), Error> {
        invoke::tcb_write_registers(self.0, rip, rsp, rdi, rsi)
    }

    /// Reads `[rip, rsp, rflags, rax]` ([`invoke::tcb_read_registers`]).
    ///
    /// ```no_run
    /// let [rip, rsp, _flags, _rax] = libcap::Tcb::from_raw(30).read_registers().expect("read");
    /// println!("stopped at {rip:#x}, stack {rsp:#x}");
    /// ```
    pub fn read_registers(self) -> Result<[u64; 4], Error> {
        invoke::tcb_read_registers(self.0)
    }

    /// Makes the thread runnable ([`invoke::tcb_resume`]).
    ///
    /// ```no_run
    /// libcap::Tcb::from_raw(30).resume().expect("resume");
    /// ```
    pub fn resume(self) -> Result<(), Error> {
        invoke::tcb_resume(self.0)
    }

    /// Stops the thread until the next [`resume`](Self::resume)
    /// ([`invoke::tcb_suspend`]).
    ///
    /// ```no_run
    /// libcap::Tcb::from_raw(30).suspend().expect("suspend");
    /// ```
    pub fn suspend(self) -> Result<(), Error> {
        invoke::tcb_suspend(self.0)
    }

    /// Names the endpoint the thread's faults go to, or none
    /// ([`invoke::tcb_set_fault_endpoint`]).
    ///
    /// ```no_run
    /// use libcap::{Endpoint, Tcb};
    /// Tcb::from_raw(30).set_fault_endpoint(Some(Endpoint::from_raw(20))).expect("fault endpoint");
    /// ```
    pub fn set_fault_endpoint(self, endpoint: Option<Endpoint>) -> Result<(), Error> {
        invoke::tcb_set_fault_endpoint(self.0, endpoint.map_or(0, |e| e.0))
    }

    /// Binds a notification to the thread, or unbinds
    /// ([`invoke::tcb_bind_notification`]).
    ///
    /// ```no_run
    /// use libcap::{Notification, Tcb};
    /// Tcb::from_raw(30).bind_notification(Some(Notification::from_raw(21))).expect("bind");
    /// ```
    pub fn bind_notification(self, ntfn: Option<Notification>) -> Result<(), Error> {
        invoke::tcb_bind_notification(self.0, ntfn.map_or(0, |n| n.0))
    }
}

/// Mapping and unmapping, the same for every level of paging structure.
macro_rules! paging_structure {
    ($name:ident, $raw:literal) => {
        impl $name {
            /// Maps the table into `vspace` where it covers `vaddr`
            /// ([`invoke::page_table_map`]).
            ///
            /// ```no_run
            #[doc = concat!("use libcap::{", stringify!($name), ", VSpace};")]
            #[doc = concat!(stringify!($name), "::from_raw(", $raw, ").map(VSpace::from_raw(3), 0x1000_0000_0000).expect(\"map\");")]
            /// ```
            pub fn map(self, vspace: VSpace, vaddr: u64) -> Result<(), Error> {
                invoke::page_table_map(self.0, vspace.0, vaddr)
            }

            /// Unmaps and clears the table ([`invoke::page_table_unmap`]).
            ///
            /// ```no_run
            #[doc = concat!("libcap::", stringify!($name), "::from_raw(", $raw, ").unmap().expect(\"unmap\");")]
            /// ```
            pub fn unmap(self) -> Result<(), Error> {
                invoke::page_table_unmap(self.0)
            }
        }
    };
}

paging_structure!(PageTable, "32");
paging_structure!(PageDirectory, "33");
paging_structure!(Pdpt, "34");

impl Frame {
    /// Maps the frame at `vaddr` of `vspace` with `rights`
    /// ([`invoke::frame_map`]).
    ///
    /// ```no_run
    /// use libcap::{Frame, VSpace, abi::Rights};
    /// Frame::from_raw(33).map(VSpace::from_raw(3), 0x1000_0000_0000, Rights::READ).expect("map");
    /// ```
    pub fn map(self, vspace: VSpace, vaddr: u64, rights: Rights) -> Result<(), Error> {
        invoke::frame_map(self.0, vspace.0, vaddr, rights)
    }

    /// Like [`map`](Self::map), but when a paging structure is missing
    /// calls `add_table` with its type (the highest level missing) to make
    /// and map one, then tries again ([`invoke::frame_map_with_tables`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, Frame, Untyped, VSpace, invoke};
    /// use libcap::abi::{ObjectType, Rights};
    ///
    /// let (root, memory, vspace) = (CNode::from_raw(2), Untyped::from_raw(8), VSpace::from_raw(3));
    /// let vaddr = 0x1000_0000_0000;
    /// let mut next = 100;
    /// Frame::from_raw(43)
    ///     .map_with_tables(vspace, vaddr, Rights::READ, |ty: ObjectType| {
    ///         memory.retype(ty, 0, 1, root, next)?;
    ///         // The level is known only now, and every level maps the
    ///         // same way: the untyped call fits.
    ///         invoke::page_table_map(next, vspace.raw(), vaddr)?;
    ///         next += 1;
    ///         Ok(())
    ///     })
    ///     .expect("map");
    /// ```
    pub fn map_with_tables(
        self,
        vspace: VSpace,
        vaddr: u64,
        rights: Rights,
        add_table: impl FnMut(ObjectType) -> Result<(), Error>,
    ) -> Result<(), Error> {
        invoke::frame_map_with_tables(self.0, vspace.0, vaddr, rights, add_table)
    }

    /// Unmaps the frame ([`invoke::frame_unmap`]).
    ///
    /// ```no_run
    /// libcap::Frame::from_raw(33).unmap().expect("unmap");
    /// ```
    pub fn unmap(self) -> Result<(), Error> {
        invoke::frame_unmap(self.0)
    }

    /// The frame's physical address ([`invoke::frame_get_address`]).
    ///
    /// ```no_run
    /// let phys = libcap::Frame::from_raw(33).physical_address().expect("address");
    /// assert_eq!(phys % 4096, 0);
    /// ```
    pub fn physical_address(self) -> Result<u64, Error> {
        invoke::frame_get_address(self.0)
    }
}

impl IrqControl {
    /// Creates the handler of line `irq` in slot `dest_index` of `root`,
    /// whose address it returns (see [`Untyped::retype_one`] for when the
    /// slot index is the address) ([`invoke::irq_control_get`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, IrqControl};
    /// let handler = IrqControl::from_raw(4).get(1, CNode::from_raw(2), 70).expect("irq 1");
    /// # let _ = handler;
    /// ```
    pub fn get(self, irq: u64, root: CNode, dest_index: u64) -> Result<IrqHandler, Error> {
        invoke::irq_control_get(self.0, irq, root.0, dest_index)?;
        Ok(IrqHandler(dest_index))
    }

    /// Creates the handler of a free message-signalled line in slot
    /// `dest_index` of `root`; returns it and the line
    /// ([`invoke::irq_control_get_msi`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, IrqControl};
    /// let (handler, line) = IrqControl::from_raw(4).get_msi(CNode::from_raw(2), 70).expect("msi");
    /// let message = handler.msi_message().expect("message");
    /// # let _ = (line, message);
    /// ```
    pub fn get_msi(self, root: CNode, dest_index: u64) -> Result<(IrqHandler, u64), Error> {
        let line = invoke::irq_control_get_msi(self.0, root.0, dest_index)?;
        Ok((IrqHandler(dest_index), line))
    }
}

/// What a device writes, and where, to raise a message-signalled
/// interrupt: the contents of an MSI capability's address and data
/// registers or of an MSI-X table entry.
///
/// ```
/// let m = libcap::MsiMessage { address: 0xfee0_0000, data: 0x48 };
/// assert_eq!(m.address as u32, 0xfee0_0000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MsiMessage {
    /// The address (64 bits; the high half is 0 on x86).
    pub address: u64,
    /// The data (the low 16 bits matter for MSI, 32 for MSI-X).
    pub data: u32,
}

impl IrqHandler {
    /// Routes the line to `ntfn` and unmasks it
    /// ([`invoke::irq_handler_set_notification`]).
    ///
    /// ```no_run
    /// use libcap::{IrqHandler, Notification};
    /// IrqHandler::from_raw(70).set_notification(Notification::from_raw(71)).expect("route");
    /// ```
    pub fn set_notification(self, ntfn: Notification) -> Result<(), Error> {
        invoke::irq_handler_set_notification(self.0, ntfn.0)
    }

    /// Unmasks the line after an interrupt was handled
    /// ([`invoke::irq_handler_ack`]).
    ///
    /// ```no_run
    /// libcap::IrqHandler::from_raw(70).ack().expect("ack");
    /// ```
    pub fn ack(self) -> Result<(), Error> {
        invoke::irq_handler_ack(self.0)
    }

    /// What the device writes to raise this message-signalled line
    /// ([`invoke::irq_handler_msi_message`]); `IllegalOperation` for an
    /// IOAPIC line.
    ///
    /// ```no_run
    /// let m = libcap::IrqHandler::from_raw(70).msi_message().expect("an MSI line");
    /// # let _ = m;
    /// ```
    pub fn msi_message(self) -> Result<MsiMessage, Error> {
        let (address, data) = invoke::irq_handler_msi_message(self.0)?;
        Ok(MsiMessage {
            address,
            data: data as u32,
        })
    }

    /// Masks the line and forgets the notification
    /// ([`invoke::irq_handler_clear`]).
    ///
    /// ```no_run
    /// libcap::IrqHandler::from_raw(70).clear().expect("clear");
    /// ```
    pub fn clear(self) -> Result<(), Error> {
        invoke::irq_handler_clear(self.0)
    }
}

impl IoPortControl {
    /// Creates a capability for ports `first..=last` in slot `dest_index`
    /// of `root` and returns it ([`invoke::io_port_issue`]).
    ///
    /// ```no_run
    /// use libcap::{CNode, IoPortControl};
    /// let com2 = IoPortControl::from_raw(5).issue(0x2f8, 0x2ff, CNode::from_raw(2), 72).expect("ports");
    /// # let _ = com2;
    /// ```
    pub fn issue(
        self,
        first: u64,
        last: u64,
        root: CNode,
        dest_index: u64,
    ) -> Result<IoPorts, Error> {
        invoke::io_port_issue(self.0, first, last, root.0, dest_index)?;
        Ok(IoPorts(dest_index))
    }
}

impl IoPorts {
    /// Reads a byte from `port` ([`invoke::io_port_in`]).
    ///
    /// ```no_run
    /// let status = libcap::IoPorts::from_raw(72).read_u8(0x2fd).expect("in");
    /// # let _ = status;
    /// ```
    pub fn read_u8(self, port: u16) -> Result<u8, Error> {
        invoke::io_port_in(self.0, port.into(), 1).map(|v| v as u8)
    }

    /// Reads a 16-bit word from `port`.
    ///
    /// ```no_run
    /// let v = libcap::IoPorts::from_raw(72).read_u16(0x2f8).expect("in");
    /// # let _ = v;
    /// ```
    pub fn read_u16(self, port: u16) -> Result<u16, Error> {
        invoke::io_port_in(self.0, port.into(), 2).map(|v| v as u16)
    }

    /// Reads a 32-bit word from `port`.
    ///
    /// ```no_run
    /// let v = libcap::IoPorts::from_raw(72).read_u32(0x2f8).expect("in");
    /// # let _ = v;
    /// ```
    pub fn read_u32(self, port: u16) -> Result<u32, Error> {
        invoke::io_port_in(self.0, port.into(), 4).map(|v| v as u32)
    }

    /// Writes a byte to `port` ([`invoke::io_port_out`]).
    ///
    /// ```no_run
    /// libcap::IoPorts::from_raw(72).write_u8(0x2f8, b'A').expect("out");
    /// ```
    pub fn write_u8(self, port: u16, value: u8) -> Result<(), Error> {
        invoke::io_port_out(self.0, port.into(), 1, value.into())
    }

    /// Writes a 16-bit word to `port`.
    ///
    /// ```no_run
    /// libcap::IoPorts::from_raw(72).write_u16(0x2f8, 0x4142).expect("out");
    /// ```
    pub fn write_u16(self, port: u16, value: u16) -> Result<(), Error> {
        invoke::io_port_out(self.0, port.into(), 2, value.into())
    }

    /// Writes a 32-bit word to `port`.
    ///
    /// ```no_run
    /// libcap::IoPorts::from_raw(72).write_u32(0x2f8, 1).expect("out");
    /// ```
    pub fn write_u32(self, port: u16, value: u32) -> Result<(), Error> {
        invoke::io_port_out(self.0, port.into(), 4, value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_keep_their_address_and_object_type() {
        assert_eq!(Endpoint::from_raw(3).addr(), 3);
        assert_eq!(Endpoint::TYPE, ObjectType::Endpoint);
        assert_eq!(Frame::TYPE, ObjectType::Frame4K);
        assert_eq!(<CNode as KernelObject>::from_addr(9), CNode::from_raw(9));
        assert_eq!(size_of::<Tcb>(), size_of::<u64>());
    }

    #[test]
    #[should_panic(expected = "outside the Basalt kernel")]
    fn operations_are_system_calls() {
        let _ = Notification::from_raw(1).poll();
    }
}
