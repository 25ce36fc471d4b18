// Package xlsx reads and writes Excel workbooks (.xlsx) for operators'
// price lists and for reports: reading over github.com/xuri/excelize/v2,
// writing over archive/zip (write.go says why). Both directions stream: a
// reader holds one row at a time (a worksheet larger than a few MiB is
// unpacked to a temporary file and parsed from there), a writer deflates
// each row into a temporary file as it goes, so a 100,000-row sheet costs
// about the memory of a 10,000-row one (TestReadMemoryIsFlat measures the
// reader, cmd/topscript's TestJobMemoryFlat a job reading and writing).
//
// Rows come out as sheet.Row under a sheet.Header, like the CSV reader's, so
// the Lua csv and xlsx modules hand scripts the same header-keyed tables.
//
// # What a cell reads as
//
// A cell reads as Excel shows it, with these choices:
//   - Text is exact: a 19-digit id stored as text (as Excel keeps an id
//     typed with a leading ' or in a column formatted as Text) comes back
//     digit for digit.
//   - A number reads through its number format as Excel displays it:
//     "1,234.50" under #,##0.00, "12%" under 0%. Under the General format it
//     reads as Excel's formula bar shows it, in full ("658812345678", where
//     the cell itself may show 6.58812E+11). A number keeps at most 15
//     significant digits in the file itself, so a 19-digit id that was
//     stored as a number has already lost its last digits: it reads as
//     Excel shows it ("1.23456789012346E+18" in full) and no reader can
//     bring the digits back. Such ids must be stored as text.
//   - A date or date-time (any number format with a year, month or day in
//     it) reads as "yyyy-MM-dd HH:mm:ss", whatever format displays it, so
//     a script can pass it to time.parse. A time of day or a duration
//     without a date part ("h:mm", "[h]:mm:ss") reads as displayed.
//   - A formula reads as its cached result, what Excel last computed; a
//     workbook written by a program that did not compute it reads "".
//   - A boolean reads "TRUE" or "FALSE"; a merged range reads its value in
//     its top-left cell and "" elsewhere.
//
// # The writer's cells
//
// Strings are written as text, never converted to numbers, so an id held
// as a string keeps every digit and a price keeps "12.50". Numbers are
// written as numbers, except those Excel cannot hold exactly (integers of
// more than 15 digits), which are written as text of their digits, and
// every value in an id-like column (see IDColumn), which is written as
// text. Id-like columns are also formatted as Text, so an operator editing
// a cell in Excel does not turn the id into a rounded number. A cell that
// starts with = + - @ (sheet.Formulaic) is marked text with Excel's quote
// prefix: it shows as written and never runs as a formula, not even when
// the operator edits it.
package xlsx
