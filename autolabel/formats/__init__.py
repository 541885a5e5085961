"""Every file format in and out, one module per format or tool: YOLO, COCO, Label Studio, CVAT, and
:class:`~autolabel.formats.reviewed.ReviewedImage`, what every reader of reviewed labels returns. No torch."""
