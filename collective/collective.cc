#include "collective/collective.h"

#include "collective/reduce.h"

namespace ensweep::collective {

size_t DTypeSize(DType dtype) { return dtype == DType::kFloat64 ? sizeof(double) : sizeof(float); }

namespace {
template <typename T>
void Add(void* accumulator, const void* addend, size_t count) {
  T* a = static_cast<T*>(accumulator);
  const T* b = static_cast<const T*>(addend);
  for (size_t i = 0; i < count; ++i) a[i] += b[i];
}
}  // namespace

void AddInto(void* accumulator, const void* addend, size_t count, DType dtype) {
  if (dtype == DType::kFloat64)
    Add<double>(accumulator, addend, count);
  else
    Add<float>(accumulator, addend, count);
}

}  // namespace ensweep::collective
