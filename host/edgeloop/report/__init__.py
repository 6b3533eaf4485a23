"""The convert report: what the model costs and what quantization did to it.

Per layer: op, output shape, MACs, constant bytes. Per model: file size,
arena size next to TFLM's own arena for the same .tflite, and, with labelled
data, the accuracy of the float model (TensorFlow), of the int8 .tflite under
TFLM and of edgeloop's converted model under edgeloop's runtime (CPython),
per class -- so the quantization loss is visible before anything is flashed.

`data` builds the `Report`, `validate` scores the models; `console` and
`html_page` render it (a rich renderable, a self-contained page with inline
SVG). Printing and writing files is the CLI's business.
"""
