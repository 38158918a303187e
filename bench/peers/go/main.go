// peer-go: the benchmark suite's Go peer, the system description's MetricsAgent with the
// official Go driver (go.mongodb.org/mongo-driver v1.17).
//
// Build: cd bench/peers/go && go build -o /work/main/.tools/bench/peer-go .
//
//	peer-go --uri URI --db DB --collection COLL --workload FILE.tsv --batch B --concurrency C
//	        [--skip-indexes] [--filter fields|id]
//
// Loads the workload (bench/workloads.py) into memory, splits it into consecutive batches of
// B metrics, and lets C goroutines take batches from a shared counter, one BatchUpsertMetrics
// call per batch. Prints one JSON line (see bench/peers/README.md); exits 1 on any error.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Peer             string  `json:"peer"`
	Metrics          int     `json:"metrics"`
	Batches          int     `json:"batches"`
	Seconds          float64 `json:"seconds"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	DocumentsWritten int64   `json:"documents_written"`
	CPUUserS         float64 `json:"cpu_user_s"`
	CPUSysS          float64 `json:"cpu_sys_s"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peer-go: "+format+"\n", args...)
	os.Exit(1)
}

func loadWorkload(path string) ([]Metric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var metrics []Metric
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; scanner.Scan(); line++ {
		text := scanner.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 7 {
			return nil, fmt.Errorf("%s:%d: expected 7 tab-separated fields, got %d", path, line, len(fields))
		}
		sport, err1 := strconv.ParseInt(fields[2], 10, 32)
		dport, err2 := strconv.ParseInt(fields[3], 10, 32)
		ms, err3 := strconv.ParseInt(fields[5], 10, 64)
		value, err4 := strconv.ParseFloat(fields[6], 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("%s:%d: bad number", path, line)
		}
		metrics = append(metrics, Metric{
			SourceIP: fields[0], DestIP: fields[1], SourcePort: int32(sport), DestPort: int32(dport),
			Protocol: fields[4], Timestamp: time.UnixMilli(ms).UTC(), Value: value,
		})
	}
	return metrics, scanner.Err()
}

func cpuTimes() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6, float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}

func main() {
	uri := flag.String("uri", "", "MongoDB URI")
	db := flag.String("db", "", "database")
	coll := flag.String("collection", "", "collection")
	workload := flag.String("workload", "", "workload file (bench/workloads.py)")
	batch := flag.Int("batch", 1000, "metrics per BatchUpsertMetrics call")
	concurrency := flag.Int("concurrency", 1, "goroutines writing batches")
	skipIndexes := flag.Bool("skip-indexes", false, "do not create the compound unique index")
	filter := flag.String("filter", "fields", "fields: filter on the six key fields; id: on flowmetrics' _id")
	flag.Parse()
	if *uri == "" || *db == "" || *coll == "" || *workload == "" || *batch < 1 || *concurrency < 1 || flag.NArg() != 0 {
		fail("usage: peer-go --uri URI --db DB --collection COLL --workload FILE --batch B --concurrency C [--skip-indexes] [--filter fields|id]")
	}
	mode := FilterFields
	switch *filter {
	case "fields":
	case "id":
		mode = FilterID
	default:
		fail("--filter must be fields or id, not %q", *filter)
	}

	agent, err := NewMetricsAgent(*uri, *db, *coll)
	if err != nil {
		fail("%v", err)
	}
	agent.filter = mode
	if !*skipIndexes {
		if err := agent.CreateMetricsIndexes(); err != nil {
			fail("%v", err)
		}
	}
	metrics, err := loadWorkload(*workload)
	if err != nil {
		fail("load workload: %v", err)
	}
	if len(metrics) == 0 {
		fail("workload %s holds no metrics", *workload)
	}
	nb := (len(metrics) + *batch - 1) / *batch

	latencies := make([]float64, nb)
	starts := make([]time.Time, nb)
	ends := make([]time.Time, nb)
	var next atomic.Int64
	var written atomic.Int64
	var failOnce sync.Once
	var firstErr error

	user0, sys0 := cpuTimes()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= nb {
					return
				}
				lo, hi := i**batch, min((i+1)**batch, len(metrics))
				starts[i] = time.Now()
				stats, err := agent.BatchUpsertMetrics(metrics[lo:hi])
				ends[i] = time.Now()
				latencies[i] = float64(ends[i].Sub(starts[i])) / float64(time.Millisecond)
				if err != nil {
					failOnce.Do(func() { firstErr = fmt.Errorf("batch %d: %w", i, err) })
					next.Store(int64(nb)) // stop the other workers
					return
				}
				written.Add(stats.Upserted + stats.Matched)
			}
		}()
	}
	wg.Wait()
	user1, sys1 := cpuTimes()
	if firstErr != nil {
		fail("%v", firstErr)
	}

	first, last := starts[0], ends[0]
	for i := range starts {
		if starts[i].Before(first) {
			first = starts[i]
		}
		if ends[i].After(last) {
			last = ends[i]
		}
	}
	sort.Float64s(latencies)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := agent.Close(ctx); err != nil {
		fail("close: %v", err)
	}

	name := "go-fields"
	if mode == FilterID {
		name = "go-id"
	}
	out, _ := json.Marshal(result{
		Peer: name, Metrics: len(metrics), Batches: nb, Seconds: last.Sub(first).Seconds(),
		P50Ms: percentile(latencies, 0.50), P99Ms: percentile(latencies, 0.99),
		DocumentsWritten: written.Load(), CPUUserS: user1 - user0, CPUSysS: sys1 - sys0,
	})
	fmt.Println(string(out))
}
