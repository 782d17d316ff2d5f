/*
 * A made-up board's DSDT in the style of real firmware, for basalt-aml's
 * tests: the interrupt model kept in a firmware variable in system memory
 * (written by _PIC, read by _PRT), a root port with its own _PRT whose
 * entries name GSIs directly, a root port without one (its functions'
 * pins are swizzled to the host bridge's table), and methods that never
 * end, recurse without bound or read an I/O port.
 *
 * Rebuild with `iasl board.asl` (Debian: acpica-tools); the test reads
 * board.aml.
 */
DefinitionBlock ("", "DSDT", 2, "BASALT", "BOARD", 1)
{
    OperationRegion (GNVS, SystemMemory, 0x7FF00000, 0x10)
    Field (GNVS, AnyAcc, Lock, Preserve)
    {
        OSYS, 16,
        PICM, 8,
    }

    OperationRegion (DBGP, SystemIO, 0x80, 1)
    Field (DBGP, ByteAcc, NoLock, Preserve)
    {
        P80H, 8,
    }

    Method (_PIC, 1, NotSerialized)
    {
        PICM = Arg0
    }

    Scope (_SB)
    {
        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 1)
            Name (_CRS, ResourceTemplate ()
            {
                IRQ (Level, ActiveLow, Shared) {11}
            })
        }

        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_ADR, Zero)
            Name (_BBN, Zero)

            Name (PR00, Package ()
            {
                Package () { 0x0002FFFF, 0, LNKA, 0 },
                Package () { 0x001CFFFF, 0, LNKA, 0 },
                Package () { 0x001DFFFF, 1, LNKA, 0 },
            })
            Name (AR00, Package ()
            {
                Package () { 0x0002FFFF, 0, 0, 16 },
                Package () { 0x001CFFFF, 0, 0, 17 },
                Package () { 0x001DFFFF, 0, 0, 18 },
                Package () { 0x001DFFFF, 1, 0, 19 },
                Package () { 0x001DFFFF, 2, 0, 20 },
                Package () { 0x001DFFFF, 3, 0, 21 },
            })
            Method (_PRT, 0, NotSerialized)
            {
                If (PICM)
                {
                    Return (AR00)
                }
                Return (PR00)
            }

            /* A root port with its own table. */
            Device (RP01)
            {
                Name (_ADR, 0x001C0000)
                Name (AR04, Package ()
                {
                    Package () { 0xFFFF, 0, 0, 16 },
                    Package () { 0xFFFF, 1, 0, 17 },
                    Package () { 0xFFFF, 2, 0, 18 },
                    Package () { 0xFFFF, 3, 0, 19 },
                })
                Method (_PRT, 0, NotSerialized)
                {
                    If (PICM)
                    {
                        Return (AR04)
                    }
                    Return (Package () {})
                }
            }

            /* A root port without one. */
            Device (RP05)
            {
                Name (_ADR, 0x001D0000)
            }
        }

        Method (LOOP, 0, NotSerialized)
        {
            Local0 = 0
            While (One)
            {
                Local0++
            }
        }

        Method (DEEP, 1, NotSerialized)
        {
            Return (DEEP (Arg0 + 1))
        }

        Method (PORT, 0, NotSerialized)
        {
            Return (P80H)
        }

        Method (ARTH, 0, NotSerialized)
        {
            Local0 = Package (3) { 1, 2, 3 }
            Local1 = 0
            Local2 = 0
            While (Local1 < SizeOf (Local0))
            {
                Local2 += DerefOf (Local0 [Local1]) * 10
                Local1++
            }
            If ((Local2 != 60) || !(Local2 >= 60))
            {
                Return (0xDEAD)
            }
            Local3 = Buffer (4) { 0x01, 0x02, 0x03, 0x04 }
            CreateWordField (Local3, 1, WRD)
            Return ((WRD << 16) | (Local2 % 7) | ((0x10 / 4) << 8))
        }
    }
}
