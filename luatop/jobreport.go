package luatop

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// jobReport is the report CSV of a job, written as rows finish by the same
// writer as csv.writer (stdlib.CSVWriter): UTF-8 with a BOM, one record a
// row.
type jobReport struct {
	*stdlib.CSVWriter
	err error // the first failed write, reported by flushReport
}

// reportColumns are the report's own columns, before the input columns.
var reportColumns = []string{"key", "status", "code", "sub_code", "message", "request_id"}

// newJobReport creates the report at path with the input columns after
// the report's own (an input column named like one of them gets the
// prefix "input_"); redact, when not nil, rewrites each cell.
func newJobReport(path string, input []string, redact func(string) string) (*jobReport, error) {
	header := append([]string{}, reportColumns...)
	for _, c := range input {
		if slices.Contains(reportColumns, c) {
			c = "input_" + c
		}
		header = append(header, c)
	}
	w, err := stdlib.CreateCSV(path, header, stdlib.CSVOptions{Redact: redact})
	if err != nil {
		return nil, err
	}
	return &jobReport{CSVWriter: w}, nil
}

// row writes one record, keeping the first failure for flushReport.
func (r *jobReport) row(rec []string) {
	if err := r.Write(rec); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *jobReport) close() error {
	err := r.Close()
	if r.err != nil {
		return r.err
	}
	return err
}

// writeReport adds a row to the report, if there is one.
func (j *job) writeReport(r *jobRow, status string, te *top.Error, msg, reqID string) {
	if j.report == nil {
		return
	}
	code, sub := "", ""
	if te != nil {
		if te.Code != 0 {
			code = strconv.Itoa(te.Code)
		}
		sub = te.SubCode
		msg = errorMessage(te)
		if te.RequestID != "" {
			reqID = te.RequestID
		}
	}
	j.report.row(append([]string{r.key, status, code, sub, msg, reqID}, r.cells...))
}

// errorMessage is the report's message of a TOP error: the sub_msg (the
// useful part of a business error), else the message, with the kind of
// client-side errors.
func errorMessage(te *top.Error) string {
	parts := []string{}
	if te.Msg != "" {
		parts = append(parts, te.Msg)
	}
	if te.SubMsg != "" {
		parts = append(parts, te.SubMsg)
	}
	msg := strings.Join(parts, ": ")
	if te.Code == 0 && te.Kind != "" {
		msg = string(te.Kind) + ": " + msg
	}
	return strings.Join(strings.Fields(msg), " ")
}

// flushReport pushes the report's rows to its file (each row is written as
// it finishes; this reports a failure to write them).
func (j *job) flushReport() error {
	if j.report == nil {
		return nil
	}
	err := j.report.err
	if err == nil {
		err = j.report.Flush()
	}
	if err != nil {
		return fmt.Errorf("report %s: %v", j.spec.report, err)
	}
	return nil
}
