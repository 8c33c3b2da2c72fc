"""SMS text as SMSGlobal carries it: how many segments, and in which encoding (GSM 03.38 / 3GPP
TS 23.038: 160 GSM-7 septets or 70 UCS-2 units in one SMS, 153 or 67 per part of a longer one)."""

from __future__ import annotations

# GSM 03.38: the basic character set (one septet each) and its extension table (two septets).
GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_parts(text: str) -> tuple[int, str]:
    """(segments, encoding) of ``text`` sent as one SMS: encoding ``GSM-7`` when every character
    is in the GSM 03.38 alphabet (160 septets, or 153 per part of a longer message; extension
    characters such as € take two), else ``UCS-2`` (70 UTF-16 units, or 67 per part)."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return 1, encoding
    return -(-units // multi), encoding
