"""The patients' files themselves: reading what phones, scanner apps and CT discs really
write, and making from each what staff and clinics are shown.

Plain functions on seekable binary streams, no database and no storage: a worker
(`service.cases.derivatives`) opens the original, calls them, and stores what they return
beside it.

- `pdf_repair`: a repaired copy (pikepdf/qpdf) of a PDF pypdf cannot read whole.
- `pdfs`: a PDF's first-page preview and its metadata-free copy.
- `images`: photos and scans (JPEG, PNG, WebP, TIFF, HEIC/HEIF): previews and copies
  without EXIF, XMP, IPTC or GPS.
- `dicom`: one DICOM file's windowed preview and its PS3.15 basic-profile copy.
- `studies`: a ZIP of a CT/MRI disc: checked, expanded within hard limits, grouped by
  study and series, de-identified member by member.
- `derive`: which of the above a detected type goes to.
- `results`: what they all return.
"""
