/*
 * A stand-in for Windows 10's bcryptprimitives.dll, for running Nexus's
 * Windows binaries under Debian 12's Wine (8.0), which predates it.
 *
 * Rust's standard library gets its random bytes (HashMap seeds, and so on)
 * from ProcessPrng in bcryptprimitives.dll on every Windows it supports;
 * Wine gained that function in a later release. This file gives Wine the
 * one function, backed by RtlGenRandom (advapi32's SystemFunction036), the
 * system's own generator. It is built by scripts/windows-wine-test.sh with
 * MinGW-w64 into the test's folder only and never shipped: a real Windows
 * has the real library.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
