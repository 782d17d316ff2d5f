extern crate std;

use super::*;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn hello() -> Manifest {
    Manifest {
        system: "hello".into(),
        components: vec![
            Component {
                name: "hello-server".into(),
                binary: "hello-server".into(),
                priority: 100,
                heap: Heap::Bytes(64 << 10),
                stack_bytes: 16 << 10,
                restart: Restart::Never,
                args: vec![("greeting".into(), "hello".into())],
                devices: vec![
                    Device::Irq {
                        name: "rtc".into(),
                        irq: 8,
                    },
                    Device::IoPorts {
                        name: "cmos".into(),
                        first: 0x70,
                        last: 0x71,
                    },
                    Device::Pci {
                        name: "net".into(),
                        ids: vec![
                            PciId {
                                vendor: 0x1af4,
                                device: 0x1041,
                            },
                            PciId {
                                vendor: 0x8086,
                                device: 0x100e,
                            },
                        ],
                        interrupt: PciInterrupt::Msi,
                    },
                ],
                start_order: 0,
            },
            Component {
                name: "hello-client".into(),
                binary: "hello-client".into(),
                priority: 90,
                heap: Heap::Bytes(64 << 10),
                stack_bytes: 16 << 10,
                restart: Restart::OnFailure {
                    budget: Budget {
                        limit: 3,
                        window_s: 60,
                        exhausted: Exhausted::BackOff,
                    },
                },
                args: vec![],
                devices: vec![],
                start_order: 1,
            },
        ],
        channels: vec![Channel {
            name: "greeter".into(),
            server: 0,
            clients: vec![1],
        }],
        notifications: vec![NotificationDecl {
            name: "done".into(),
            owner: 1,
            signallers: vec![0],
        }],
        regions: vec![Region {
            name: "log".into(),
            size: 8192,
            users: vec![(0, true), (1, false)],
        }],
    }
}

#[test]
fn the_header_is_magic_then_little_endian_version() {
    let bytes = hello().encode();
    assert_eq!(&bytes[..8], b"BSLTMANI");
    assert_eq!(&bytes[8..12], &[4, 0, 0, 0]);
}

#[test]
fn a_manifest_survives_encoding() {
    let m = hello();
    assert_eq!(Manifest::decode(&m.encode()), Ok(m));
    let empty = Manifest::default();
    assert_eq!(Manifest::decode(&empty.encode()), Ok(empty));
}

#[test]
fn a_wrong_magic_is_refused() {
    let mut bytes = hello().encode();
    bytes[0] = b'X';
    assert_eq!(Manifest::decode(&bytes), Err(DecodeError::BadMagic));
    assert_eq!(Manifest::decode(b""), Err(DecodeError::BadMagic));
    assert_eq!(Manifest::decode(b"BSLT"), Err(DecodeError::BadMagic));
    assert_eq!(
        Manifest::decode(b"\x7fELF\x02\x01\x01\x00\x01\x00\x00\x00"),
        Err(DecodeError::BadMagic)
    );
}

#[test]
fn another_version_is_refused_with_its_number() {
    let mut bytes = hello().encode();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        Manifest::decode(&bytes),
        Err(DecodeError::UnsupportedVersion(1))
    );
    bytes[8..12].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    assert_eq!(
        Manifest::decode(&bytes),
        Err(DecodeError::UnsupportedVersion(0x0100_0000))
    );
    assert!(
        DecodeError::UnsupportedVersion(2)
            .to_string()
            .contains("version 2")
    );
}

#[test]
fn every_truncation_is_refused() {
    let bytes = hello().encode();
    for len in 0..bytes.len() {
        let r = Manifest::decode(&bytes[..len]);
        let wanted = if len < 8 {
            DecodeError::BadMagic
        } else {
            DecodeError::Malformed
        };
        assert_eq!(r, Err(wanted), "cut at {len} of {}", bytes.len());
    }
}

#[test]
fn stray_bytes_after_the_body_are_refused() {
    let mut bytes = hello().encode();
    bytes.push(0);
    assert_eq!(Manifest::decode(&bytes), Err(DecodeError::Malformed));
}

#[test]
fn helpers_name_modules_badges_and_the_start_sequence() {
    let mut m = hello();
    assert_eq!(m.components[1].module_name(), "bin/hello-client");
    assert_eq!(m.component_index("hello-client"), Some(1));
    assert_eq!(m.component_index("nobody"), None);
    assert_eq!(client_badge(0), 1);
    assert_eq!(m.components[0].devices[2].name(), "net");
    assert_eq!(m.start_sequence(), vec![0, 1]);
    m.components[0].start_order = 1;
    m.components[1].start_order = 0;
    assert_eq!(m.start_sequence(), vec![1, 0]);
}

fn restart() -> impl Strategy<Value = Restart> {
    prop_oneof![
        Just(Restart::Never),
        (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(limit, window_s, stop)| {
            Restart::OnFailure {
                budget: Budget {
                    limit,
                    window_s,
                    exhausted: if stop {
                        Exhausted::Stop
                    } else {
                        Exhausted::BackOff
                    },
                },
            }
        }),
        Just(Restart::Always),
    ]
}

fn device() -> impl Strategy<Value = Device> {
    prop_oneof![
        (any::<String>(), any::<u8>()).prop_map(|(name, irq)| Device::Irq { name, irq }),
        (any::<String>(), any::<u16>(), any::<u16>())
            .prop_map(|(name, first, last)| Device::IoPorts { name, first, last }),
        (
            any::<String>(),
            proptest::collection::vec((any::<u16>(), any::<u16>()), 0..5),
            any::<bool>()
        )
            .prop_map(|(name, ids, msi)| Device::Pci {
                name,
                ids: ids
                    .into_iter()
                    .map(|(vendor, device)| PciId { vendor, device })
                    .collect(),
                interrupt: if msi {
                    PciInterrupt::Msi
                } else {
                    PciInterrupt::None
                },
            }),
    ]
}

fn heap() -> impl Strategy<Value = Heap> {
    prop_oneof![
        any::<u64>().prop_map(Heap::Bytes),
        any::<u8>().prop_map(|percent| Heap::Share { percent }),
    ]
}

fn component() -> impl Strategy<Value = Component> {
    (
        (any::<String>(), any::<String>(), any::<u8>()),
        (heap(), any::<u64>(), restart()),
        proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        proptest::collection::vec(device(), 0..4),
        any::<u32>(),
    )
        .prop_map(
            |(
                (name, binary, priority),
                (heap, stack_bytes, restart),
                args,
                devices,
                start_order,
            )| {
                Component {
                    name,
                    binary,
                    priority,
                    heap,
                    stack_bytes,
                    restart,
                    args,
                    devices,
                    start_order,
                }
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    let indices = || proptest::collection::vec(any::<u32>(), 0..5);
    (
        any::<String>(),
        proptest::collection::vec(component(), 0..5),
        proptest::collection::vec(
            (any::<String>(), any::<u32>(), indices()).prop_map(|(name, server, clients)| {
                Channel {
                    name,
                    server,
                    clients,
                }
            }),
            0..4,
        ),
        proptest::collection::vec(
            (any::<String>(), any::<u32>(), indices()).prop_map(|(name, owner, signallers)| {
                NotificationDecl {
                    name,
                    owner,
                    signallers,
                }
            }),
            0..4,
        ),
        proptest::collection::vec(
            (
                any::<String>(),
                any::<u64>(),
                proptest::collection::vec((any::<u32>(), any::<bool>()), 0..4),
            )
                .prop_map(|(name, size, users)| Region { name, size, users }),
            0..4,
        ),
    )
        .prop_map(
            |(system, components, channels, notifications, regions)| Manifest {
                system,
                components,
                channels,
                notifications,
                regions,
            },
        )
}

proptest! {
    #[test]
    fn any_manifest_round_trips(m in manifest()) {
        prop_assert_eq!(Manifest::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn any_cut_or_bit_flip_never_panics(m in manifest(), cut in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = m.encode();
        let at = cut.index(bytes.len());
        prop_assert!(Manifest::decode(&bytes[..at]).is_err());
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << bit;
        // Decoding corrupt bytes returns whatever it finds or an error, but
        // never panics.
        let _ = Manifest::decode(&flipped);
    }
}
