"""WeChat's XML bodies (Official Accounts, WeCom): parsed without DTDs or entities, refused with a reason."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from adapters.errors import PayloadError


def parse_xml(channel: str, raw: bytes, where: str) -> Element:
    """The <xml> root of `raw`; PayloadError naming `where` (the body, or the decrypted <Encrypt>)."""
    try:
        root = fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise PayloadError(channel, f"{where}: DTDs and entities are not allowed", field=where) from None
    except ParseError as exc:
        raise PayloadError(channel, f"{where}: malformed XML ({exc})", field=where) from None
    except (ValueError, LookupError) as exc:  # an encoding expat cannot read, e.g. encoding="gbk"
        raise PayloadError(channel, f"{where}: unsupported XML encoding ({exc})", field=where) from None
    if root.tag != "xml":
        raise PayloadError(channel, f"{where}: root element must be <xml>", field=where)
    return root


def text_of(root: Element, field: str) -> str:
    return (root.findtext(field) or "").strip()
