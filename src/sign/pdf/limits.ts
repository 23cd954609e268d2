/**
 * Bounds on what the PDF reader accepts. A signed official document is a few megabytes; these limits are
 * generous for real files and keep a hostile one (huge objects, deep nesting, endless /Prev chains,
 * decompression bombs) to bounded time and memory.
 */
export const MAX_PDF_BYTES = 256 * 1024 * 1024;
/** one indirect object's text (streams excluded) */
export const MAX_OBJECT_BYTES = 8 * 1024 * 1024;
/** arrays and dictionaries inside each other */
export const MAX_DEPTH = 64;
/** entries of one array or dictionary */
export const MAX_CONTAINER_ITEMS = 100_000;
/** object numbers a cross-reference may name (/Size) */
export const MAX_OBJECTS = 4_000_000;
/** cross-reference sections followed through /Prev */
export const MAX_XREF_SECTIONS = 10_000;
/** decoded size of one cross-reference or object stream */
export const MAX_DECODED_STREAM = 64 * 1024 * 1024;
/** decoded size of all the streams of one file the reader decodes, over all its revisions (./stream.ts) */
export const MAX_DECODED_PER_FILE = 256 * 1024 * 1024;
/** objects one object stream may hold */
export const MAX_OBJSTM_OBJECTS = 100_000;
/** nodes visited walking the page tree or form fields */
export const MAX_TREE_NODES = 200_000;
/** page tree levels walked up through /Parent for an inherited page attribute */
export const MAX_INHERITANCE_DEPTH = 64;
/** how far from the end of the file `startxref` may be */
export const STARTXREF_WINDOW = 4096;
/** signatures (signature fields with a value) validated in one file: each costs a path validation */
export const MAX_PDF_SIGNATURES = 100;
/** revisions (incremental updates) of a file whose signatures are validated: each later one is compared with the one before */
export const MAX_PDF_REVISIONS = 300;
