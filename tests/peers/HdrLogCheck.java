// Reads an HdrHistogram interval log with the Java HdrHistogram library's own reader (what
// Maestro's tools use) and prints the number of intervals and the total count of values.
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HdrLogCheck {
    public static void main(String[] args) throws Exception {
        HistogramLogReader reader = new HistogramLogReader(args[0]);
        long intervals = 0;
        long total = 0;
        EncodableHistogram h;
        while ((h = reader.nextIntervalHistogram()) != null) {
            intervals++;
            total += ((Histogram) h).getTotalCount();
        }
        System.out.println(intervals + " " + total);
    }
}
