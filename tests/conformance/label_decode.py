"""Reads our shipping-label PDF with tools we did not write: PDFium (pypdfium2) renders each
page and extracts its text, ZXing (zxing-cpp) finds and decodes the barcodes in the picture.

Driven by tests/it/courier_conformance.rs when CONFORMANCE_PYTHON names a Python that has
tests/conformance/requirements.txt installed.

  label_decode.py PDF [--dpi 203]

Prints one JSON object: {"pages": [{"width_mm", "height_mm", "text", "barcodes":
[{"format", "text"}]}]}. The page is rendered at a thermal printer's 203 dpi by default, so a
barcode that decodes here decodes from what the printer prints.
"""

import argparse
import json

import pypdfium2 as pdfium
import zxingcpp

POINTS_PER_MM = 72 / 25.4


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pdf")
    parser.add_argument("--dpi", type=int, default=203)
    args = parser.parse_args()

    document = pdfium.PdfDocument(args.pdf)
    pages = []
    for page in document:
        width, height = page.get_size()
        text = page.get_textpage().get_text_range()
        image = page.render(scale=args.dpi / 72, grayscale=True).to_pil()
        found = zxingcpp.read_barcodes(image)
        pages.append(
            {
                "width_mm": round(width / POINTS_PER_MM, 2),
                "height_mm": round(height / POINTS_PER_MM, 2),
                "text": text,
                "barcodes": [{"format": str(b.format), "text": b.text} for b in found],
            }
        )
    print(json.dumps({"pages": pages}, ensure_ascii=False))


if __name__ == "__main__":
    main()
